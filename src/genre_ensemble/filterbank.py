"""Keep librosa's constant-Q filter banks in memory while many clips are transformed.

``librosa.cqt`` rebuilds the FFT filter bank of every octave on every call (about two thirds
of a CQT's time on a 10 s clip); librosa caches it only on disk, through ``LIBROSA_CACHE_DIR``,
whose per-call hashing and unpickling cost about as much as rebuilding. The bank depends only
on the sample rate, the bins' frequencies (so on the tuning librosa estimates per clip) and the
filter settings: :func:`remembered_cqt_filters` keeps the banks already built in this process
and hands out copies (librosa rescales the bank in place), so the CQT's output is
bit-identical to a plain call.

Used by ``predict`` only; the pipeline's stages call librosa plainly.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

# librosa's private builder of one octave's FFT filter bank (librosa 0.10 and 0.11).
_BUILDER = "__vqt_filter_fft"
# Banks kept per process: one per octave (8 for C1..B8) per distinct tuning; ~0.2 MB each.
MAX_BANKS = 256

_banks: OrderedDict[Hashable, tuple[Any, int, np.ndarray]] = OrderedDict()


def _key(value: Any) -> Hashable:
    """A hashable, exact stand-in for one argument (arrays by dtype, shape and bytes)."""
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, list | tuple):
        return tuple(_key(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((name, _key(item)) for name, item in value.items()))
    return (type(value).__name__, value)


def _remembering(builder: Any, max_banks: int) -> Any:
    def build(*args: Any, **kwargs: Any) -> tuple[Any, int, np.ndarray]:
        key = (_key(args), _key(kwargs))
        if key not in _banks:
            _banks[key] = builder(*args, **kwargs)
            while len(_banks) > max_banks:
                _banks.popitem(last=False)
        _banks.move_to_end(key)
        basis, n_fft, lengths = _banks[key]
        return basis.copy(), n_fft, lengths.copy()  # vqt scales the basis in place

    return build


@contextmanager
def remembered_cqt_filters(*, max_banks: int = MAX_BANKS) -> Iterator[None]:
    """Within the block, ``librosa.cqt`` reuses the filter banks this process already built.

    Parameters
    ----------
    max_banks : int
        Most banks kept (least recently used ones are dropped first).

    Notes
    -----
    Falls back to plain librosa (no reuse) when its private builder is not found, e.g. after
    a librosa upgrade renamed it. Not thread-safe: the builder is swapped module-wide.
    """
    from librosa.core import constantq

    builder = getattr(constantq, _BUILDER, None)
    if builder is None or getattr(builder, "remembers", False):
        yield
        return
    remembering = _remembering(builder, max_banks)
    remembering.remembers = True  # type: ignore[attr-defined]
    setattr(constantq, _BUILDER, remembering)
    try:
        yield
    finally:
        setattr(constantq, _BUILDER, builder)


def forget_cqt_filters() -> None:
    """Drop every remembered filter bank."""
    _banks.clear()
