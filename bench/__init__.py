"""The benchmarks: measurements of the pipeline, its stages, ``predict`` and the ports, each a
script that prints a small table and writes ``bench/results/<name>.json`` (the numbers, the
command as it was run, the date and the machine). They measure; what the project does lives
in ``src/genre_ensemble`` (the named experiments too: ``genre-ensemble sweep``).

Every script is a module of this package, run from the repository root::

    python -m bench.image_stage --clips 4
    python -m bench.run_all --quick          # the benchmarks `make bench` runs, then a summary

``bench/README.md`` lists them and says how each number is taken. What they share is in
:mod:`bench.common` (the machine's description, results files, synthetic clips, a workspace
with a completed pipeline run) and :mod:`bench.workspace` (copying, committing and running a
DVC workspace; the test suite builds its workspaces with it too).

Importing the package sets the project's cache folders as defaults (numba's, matplotlib's,
quiet TensorFlow: :func:`bench.workspace.use_repository_caches`) before a script imports
librosa or TensorFlow, as ``tests/conftest.py`` does for the tests.
"""

from bench.workspace import use_repository_caches

use_repository_caches()
