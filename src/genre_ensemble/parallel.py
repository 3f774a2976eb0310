"""Run per-clip work in parallel through any joblib backend, with a progress bar."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from joblib import Parallel, delayed, effective_n_jobs, parallel_config
from threadpoolctl import threadpool_limits
from tqdm import tqdm

Item = TypeVar("Item")
Result = TypeVar("Result")

# joblib's multiprocessing backend cannot hand results back one by one
NON_STREAMING_BACKENDS = frozenset({"multiprocessing"})
# backends whose workers are local processes, which joblib limits to cpu_count // n_jobs threads
PROCESS_BACKENDS = frozenset({"loky", "multiprocessing"})


@contextmanager
def joblib_backend(backend: str, n_jobs: int) -> Iterator[None]:
    """Activate a joblib backend; ``dask`` and ``ray`` are connected to their cluster here.

    ``dask`` connects a ``dask.distributed.Client`` to the scheduler named by the
    ``DASK_SCHEDULER_ADDRESS`` environment variable (or starts a local cluster when unset);
    ``ray`` registers Ray's joblib backend (``RAY_ADDRESS`` picks the cluster). Both are
    optional installs: ``pip install "dask[distributed]"`` or ``pip install ray``.
    """
    client = None
    if backend == "dask":
        from dask.distributed import Client

        client = Client()
    elif backend == "ray":
        from ray.util.joblib import register_ray

        register_ray()
    try:
        with parallel_config(backend=backend, n_jobs=n_jobs):
            yield
    finally:
        if client is not None:
            client.close()


def parallel_map(
    function: Callable[[Item], Result],
    items: Sequence[Item],
    *,
    n_jobs: int = 1,
    backend: str = "loky",
    desc: str = "",
    unit: str = "clip",
    progress: bool = True,
) -> Iterator[Result]:
    """Yield ``function(item)`` for every item, in order, computed by joblib workers.

    Results stream back as they finish (except on backends that cannot stream), so the caller
    holds one small result per item, never all inputs' intermediate data.
    """
    items = list(items)
    bar = tqdm(total=len(items), desc=desc, unit=unit, disable=not progress)
    with bar:
        if n_jobs != 1 and items:
            # The first item runs here, so librosa's numba kernels are compiled and written to
            # the on-disk cache once, before any worker starts: workers compiling into an empty
            # NUMBA_CACHE_DIR at the same time can read each other's half-written files and
            # crash (seen as SIGSEGV on a fresh clone). It gets the BLAS/OpenMP thread limit
            # joblib gives process workers, so its result is bit-identical to a worker's
            # (summation order depends on the thread count).
            threads = None
            if backend in PROCESS_BACKENDS:
                threads = max(1, (os.cpu_count() or 1) // effective_n_jobs(n_jobs))
            with threadpool_limits(limits=threads):
                first = function(items[0])
            yield first
            bar.update()
            items = items[1:]
        return_as = "list" if backend in NON_STREAMING_BACKENDS else "generator"
        with joblib_backend(backend, n_jobs):
            results: Any = Parallel(return_as=return_as)(delayed(function)(i) for i in items)
            for result in results:
                yield result
                bar.update()
