"""librosa's CQT filter banks kept in memory: a hook into librosa's internals, isolated here.

librosa.cqt builds its filter bank (one per octave) on every call, about 60 % of a CQT's time,
and keeps it only in an on-disk joblib cache that LIBROSA_CACHE_DIR must name before librosa
is imported. The bank depends only on the settings, so :func:`remember_cqt_filters` keeps it in
memory, for every caller (stage workers, predict), without touching the environment, by
replacing librosa's private builder ``librosa.core.constantq.__vqt_filter_fft``. librosa has no
public route to this; the CQT is the same to the last bit (``tests/test_representations.py``
checks it against librosa's own, call after call, and fails, naming the installed version,
when another librosa than :data:`TESTED_LIBROSA` is installed).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import librosa
import librosa.core.constantq
import numpy as np

# The librosa release whose private filter builder this module wraps, as tested.
TESTED_LIBROSA = "0.11.0"
_FILTER_FFT_NAME = "__vqt_filter_fft"  # librosa 0.11's builder, looked up per call by vqt
_FILTER_FFT_LIMIT = 64  # banks kept (8 per CQT setting and sample rate: a few settings)
_filter_banks: OrderedDict[tuple, tuple[Any, int, np.ndarray]] = OrderedDict()


def _array_key(values: Any) -> Any:
    if values is None:
        return None
    array = np.asarray(values)
    return array.dtype.str, array.shape, array.tobytes()


def _remembered_filter_fft(build: Any) -> Any:
    """``build`` (librosa's filter-bank builder) with its results kept in memory.

    Returns copies: librosa scales the bank it gets in place (``fft_basis[:] *= ...``).
    """

    def filter_fft(sr, freqs, filter_scale, norm, sparsity, hop_length=None, window="hann",
                   gamma=0.0, dtype=np.complex64, alpha=None):
        key = (float(sr), _array_key(freqs), filter_scale, norm, sparsity, hop_length,
               repr(window), gamma, np.dtype(dtype).str, _array_key(alpha))
        if key not in _filter_banks:
            _filter_banks[key] = build(sr, freqs, filter_scale, norm, sparsity,
                                       hop_length=hop_length, window=window, gamma=gamma,
                                       dtype=dtype, alpha=alpha)
            while len(_filter_banks) > _FILTER_FFT_LIMIT:
                _filter_banks.popitem(last=False)
        basis, n_fft, lengths = _filter_banks[key]
        return basis.copy(), n_fft, lengths.copy()

    filter_fft.remembers = build  # marks the wrapper (installed once) and keeps the original
    return filter_fft


def remember_cqt_filters() -> bool:
    """Keep librosa's CQT filter banks in memory (idempotent); False if librosa lacks the hook.

    The CQT is the same to the last bit (``test_representations.py``); only the rebuilding of
    its filters is skipped.
    """
    module = librosa.core.constantq
    build = getattr(module, _FILTER_FFT_NAME, None)
    if build is None:
        return False
    if not hasattr(build, "remembers"):
        setattr(module, _FILTER_FFT_NAME, _remembered_filter_fft(build))
    return True
