"""The descriptors of the feature-based member: hand-made audio descriptors per window."""

from __future__ import annotations

import librosa
import numpy as np

from genre_ensemble.core.params import WindowParams
from genre_ensemble.corpus.windows import frame_slices
from genre_ensemble.members.descriptors.kind import DescriptorParams


def _statistics(prefix: str, values: np.ndarray) -> dict[str, float]:
    """Mean and standard deviation over time of every row of ``values`` (rows, frames)."""
    # One reduction over all rows. Rows laid out contiguously make numpy sum each row on its
    # own (pairwise, as a row-by-row mean / std does), so the values are the same to the last
    # bit; over a column-major array (librosa's chroma) it would add up frame by frame.
    values = np.ascontiguousarray(np.atleast_2d(values))
    means, stds = values.mean(axis=1).tolist(), values.std(axis=1).tolist()
    stats = {}
    for row, (mean, std) in enumerate(zip(means, stds, strict=True)):
        stats[f"{prefix}{row}_mean"] = mean
        stats[f"{prefix}{row}_std"] = std
    return stats


def window_features(
    signal: np.ndarray, sr: int, *, windows: WindowParams, descriptors: DescriptorParams
) -> list[dict[str, float]]:
    """Hand-made descriptors for every window of one clip.

    Frame-level features are computed once over the clip and summarised (mean, std) over each
    window's frames: ``descriptors.n_mfcc`` MFCCs, spectral centroid, bandwidth, roll-off,
    7-band contrast, flatness, zero-crossing rate, RMS, 12 chroma bins; plus the clip's tempo
    (bpm) and onset rate, which need more context than a short window gives.

    Parameters
    ----------
    signal : np.ndarray, shape (n_samples,)
    sr : int
        Sample rate in Hz.
    windows : WindowParams
        Window length (s) and overlap, as in params ``windows``; 0 s means one window over
        the whole clip.
    descriptors : DescriptorParams
        MFCC count and the frames' FFT size and hop (samples), params ``features.descriptors``.

    Returns
    -------
    list of dict, one per window, feature name -> value
        Computed in float64 whatever the input's type: the values are stored rounded to 6
        significant digits, and float32 sums differ in that last digit between BLAS kernels
        and thread counts (different CPUs), float64 sums practically never.
    """
    signal = np.asarray(signal, dtype=np.float64)
    hop_length = descriptors.hop_length
    stft = np.abs(librosa.stft(signal, n_fft=descriptors.n_fft, hop_length=hop_length))
    power = stft**2
    # in Hz; the bandwidth is taken around it (librosa would otherwise compute it again)
    centroid = librosa.feature.spectral_centroid(S=stft, sr=sr)
    frames = {
        "mfcc": librosa.feature.mfcc(
            S=librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=sr)),
            n_mfcc=descriptors.n_mfcc,
        ),
        "centroid": centroid / 1000.0,
        "bandwidth": librosa.feature.spectral_bandwidth(S=stft, sr=sr, centroid=centroid)
        / 1000.0,
        "rolloff": librosa.feature.spectral_rolloff(S=stft, sr=sr) / 1000.0,
        "contrast": librosa.feature.spectral_contrast(S=stft, sr=sr),
        "flatness": librosa.feature.spectral_flatness(S=stft),
        "zcr": librosa.feature.zero_crossing_rate(
            signal, frame_length=descriptors.n_fft, hop_length=hop_length
        ),
        "rms": librosa.feature.rms(S=stft, frame_length=descriptors.n_fft),
        "chroma": librosa.feature.chroma_stft(S=power, sr=sr),
    }
    onset = librosa.onset.onset_strength(S=librosa.power_to_db(power), sr=sr)
    tempo = float(np.atleast_1d(librosa.feature.tempo(onset_envelope=onset, sr=sr))[0])
    onsets = librosa.onset.onset_detect(onset_envelope=onset, sr=sr, hop_length=hop_length)
    onset_rate = len(onsets) / (signal.shape[0] / sr)
    n_frames = min(values.shape[-1] for values in frames.values())
    rows = []
    for columns in frame_slices(
        n_frames,
        sr=sr,
        hop_length=hop_length,
        clip_seconds=signal.shape[0] / sr,
        window_seconds=windows.seconds,
        overlap=windows.overlap,
    ):
        row = {"tempo": tempo, "onset_rate": onset_rate}
        for name, values in frames.items():
            row.update(_statistics(name, values[:, columns]))
        rows.append(row)
    return rows
