"""Run per-clip work in parallel through any joblib backend, with a progress bar."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar

from joblib import Parallel, delayed, parallel_config
from threadpoolctl import threadpool_limits
from tqdm import tqdm

Item = TypeVar("Item")
Result = TypeVar("Result")

# joblib's multiprocessing backend cannot hand results back one by one
NON_STREAMING_BACKENDS = frozenset({"multiprocessing"})
# BLAS / OpenMP threads for each item, whatever the backend, n_jobs and the machine's cores:
# float sums depend on the thread count (it splits them), and outputs must not.
ITEM_THREADS = 1


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
    holds one small result per item, never all inputs' intermediate data. Every item runs with
    :data:`ITEM_THREADS` BLAS threads, so results are the same for any backend, ``n_jobs`` and
    core count.
    """
    items = list(items)
    task = partial(_single_threaded, function)
    bar = tqdm(total=len(items), desc=desc, unit=unit, disable=not progress)
    with bar:
        if n_jobs != 1 and items:
            # The first item runs here, so librosa's numba kernels are compiled and written to
            # the on-disk cache once, before any worker starts: workers compiling into an empty
            # NUMBA_CACHE_DIR at the same time can read each other's half-written files and
            # crash (seen as SIGSEGV on a fresh clone).
            yield task(items[0])
            bar.update()
            items = items[1:]
        return_as = "list" if backend in NON_STREAMING_BACKENDS else "generator"
        with joblib_backend(backend, n_jobs):
            results: Any = Parallel(return_as=return_as)(delayed(task)(i) for i in items)
            for result in results:
                yield result
                bar.update()


def _single_threaded(function: Callable[[Item], Result], item: Item) -> Result:
    with threadpool_limits(limits=ITEM_THREADS):
        return function(item)
