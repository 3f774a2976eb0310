"""Run per-clip work in parallel through any joblib backend, with a progress bar."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from joblib import Parallel, delayed, effective_n_jobs, parallel_config
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from genre_ensemble.core.params import Choices, ParamsError, module_installed

Item = TypeVar("Item")
Result = TypeVar("Result")

# params parallel.backend: joblib backend -> the optional package a cluster backend needs
# (module to import, what to pip install), None for joblib's own backends
BACKENDS: Choices[tuple[str, str] | None] = Choices("parallel.backend", {
    "loky": None,
    "threading": None,
    "multiprocessing": None,
    "dask": ("dask.distributed", "dask[distributed]"),
})


def check_backend(backend: str) -> None:
    """``backend`` is one of :data:`BACKENDS` and what it needs is installed.

    Raises
    ------
    ParamsError
        Naming the package to install otherwise.
    """
    needs = BACKENDS.pick(backend)
    if needs is not None and not module_installed(needs[0]):
        raise ParamsError(BACKENDS.key, f"is {backend!r} but {needs[0]} is not installed",
                          f"pip install '{needs[1]}' or use loky")


# joblib's multiprocessing backend cannot hand results back one by one
NON_STREAMING_BACKENDS = frozenset({"multiprocessing"})
# BLAS / OpenMP threads for each item, whatever the backend, n_jobs and the machine's cores:
# float sums depend on the thread count (it splits them), and outputs must not.
ITEM_THREADS = 1
# the environment variable (dask's own) that names a running scheduler, e.g. tcp://host:8786
DASK_SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
# a local dask cluster listens on the loopback interface only
LOCAL_HOST = "127.0.0.1"
# dask's nanny starts workers with this glibc setting (to hand freed memory back to the OS at
# once); glibc then maps and unmaps every large array afresh, and the page faults doubled a
# clip's CPU time (system time 0.03 -> 0.16-0.22 s of 0.25 s). A local cluster's workers keep
# glibc's default unless the user's environment sets the variable.
MALLOC_TRIM_VARIABLE = "MALLOC_TRIM_THRESHOLD_"


def call_with_thread_limit(function: Callable[[Item], Result], item: Item) -> Result:
    """``function(item)`` with BLAS / OpenMP thread pools limited to :data:`ITEM_THREADS`."""
    with threadpool_limits(limits=ITEM_THREADS):
        return function(item)


@contextmanager
def dask_client(n_workers: int, *, address: str | None = None) -> Iterator[Any]:
    """A ``dask.distributed.Client`` on the scheduler at ``address``, else on a local cluster.

    The local cluster has ``n_workers`` worker processes of one thread each on 127.0.0.1,
    without a dashboard and without dask's ``MALLOC_TRIM_THRESHOLD_`` (see
    :data:`MALLOC_TRIM_VARIABLE`), and is shut down on exit. A remote scheduler's workers must
    see the same file system paths as this process (they read clips and write images there).
    """
    import dask
    from dask.distributed import Client, LocalCluster

    if address:
        with Client(address) as client:
            yield client
        return
    users_setting = os.environ.get(MALLOC_TRIM_VARIABLE)
    # None removes the variable from what the nanny sets (dask's documented way to unset it)
    unset = {f"distributed.nanny.pre-spawn-environ.{MALLOC_TRIM_VARIABLE}": None}
    try:
        with (
            dask.config.set(unset if users_setting is None else {}),
            # no dashboard; the scheduler still serves HTTP (health, metrics), by default on
            # 8787, which a user's own dashboard or a second cluster may hold: any free port
            LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                         host=LOCAL_HOST, dashboard_address=None,
                         scheduler_kwargs={"dashboard_address": ":0"}) as cluster,
            Client(cluster) as client,
        ):
            yield client
    finally:
        if users_setting is None:  # the nanny leaves its variables in this process's environment
            os.environ.pop(MALLOC_TRIM_VARIABLE, None)


@contextmanager
def joblib_backend(backend: str, n_jobs: int) -> Iterator[None]:
    """Activate a joblib backend; ``dask`` is connected to its cluster here.

    ``backend`` is checked first (:func:`check_backend`). ``dask`` connects to the scheduler
    named by the ``DASK_SCHEDULER_ADDRESS`` environment
    variable, or starts a local cluster of ``n_jobs`` worker processes when it is unset. dask
    is an optional install: ``pip install -r requirements-dask.txt``.
    """
    check_backend(backend)
    if backend != "dask":
        with parallel_config(backend=backend, n_jobs=n_jobs):
            yield
        return
    address = os.environ.get(DASK_SCHEDULER_ENV) or None
    with (
        dask_client(effective_n_jobs(n_jobs), address=address),
        parallel_config(backend=backend, n_jobs=n_jobs),
    ):
        yield


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
    bar = tqdm(total=len(items), desc=desc, unit=unit, disable=not progress)
    with bar:
        if n_jobs != 1 and items:
            # The first item runs here, so librosa's numba kernels are compiled and written to
            # the on-disk cache once, before any worker starts: workers compiling into an empty
            # NUMBA_CACHE_DIR at the same time can read each other's half-written files and
            # crash (seen as SIGSEGV on a fresh clone).
            yield call_with_thread_limit(function, items[0])
            bar.update()
            items = items[1:]
        return_as = "list" if backend in NON_STREAMING_BACKENDS else "generator"
        with joblib_backend(backend, n_jobs):
            results: Any = Parallel(return_as=return_as)(
                delayed(call_with_thread_limit)(function, item) for item in items
            )
            for result in results:
                yield result
                bar.update()
