"""The local classification service behind ``genre-ensemble serve``.

- :mod:`~genre_ensemble.service.command`: the ``serve`` command (loads the members, runs
  uvicorn);
- :mod:`~genre_ensemble.service.app`: the Starlette application and its settings;
- :mod:`~genre_ensemble.service.classifier`: one file through ``predict``'s machinery;
- :mod:`~genre_ensemble.service.uploads`: a multipart upload streamed to a temporary file;
- :mod:`~genre_ensemble.service.probe`: an audio header's length and truncation;
- :mod:`~genre_ensemble.service.limits`: bounded concurrent work and queue;
- :mod:`~genre_ensemble.service.health`: the models' commit and metrics;
- ``page.html``: the page ``GET /`` serves (self-contained, no network but this server).

The labels every answer names are the loaded members' (:attr:`~genre_ensemble.inference.
loading.LoadedMembers.labels`, the run's recorded label set), never a fixed list.

Importing this package imports nothing heavy; Starlette loads with ``app``.
"""
