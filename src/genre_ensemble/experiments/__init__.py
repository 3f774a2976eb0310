"""DVC experiments: reading them (:mod:`.runs`), grouping cross-validation folds into
variants (:mod:`.crossval`), paired statistics (:mod:`.stats`), ``genre-ensemble compare``
and the named sweeps (:mod:`.sweeps`, ``genre-ensemble sweep``)."""
