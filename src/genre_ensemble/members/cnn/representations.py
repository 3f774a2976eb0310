"""The three images of a clip: dB STFT, dB constant-Q and chroma, and their rendering to pixels.

The transforms share work where the maths allows: one STFT serves the stft image, one CQT
serves both the cqt image and the chromagram (folded from the CQT's semitone bins).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable

import librosa
import numpy as np
from PIL import Image

from genre_ensemble.core.params import Choices
from genre_ensemble.members.cnn.cqt_filters import remember_cqt_filters
from genre_ensemble.members.cnn.kind import REPRESENTATIONS, ImageParams

# librosa.display y-axis for each representation in the paper's figure style.
FIGURE_AXES: dict[str, str] = {"stft": "linear", "cqt": "cqt_note", "chroma": "chroma"}


def stft_db(signal: np.ndarray, *, n_fft: int, hop_length: int, top_db: float) -> np.ndarray:
    """Power STFT in dB relative to its peak.

    Parameters
    ----------
    signal : np.ndarray, shape (n_samples,)
    n_fft, hop_length : int
        Window and hop in samples.
    top_db : float
        Values are clipped to ``[-top_db, 0]`` dB.

    Returns
    -------
    np.ndarray, shape (1 + n_fft // 2, n_frames), float32, dB
        Row 0 is 0 Hz.
    """
    power = np.abs(librosa.stft(signal, n_fft=n_fft, hop_length=hop_length)) ** 2
    return librosa.power_to_db(power, ref=np.max, top_db=top_db).astype(np.float32)


def cqt_magnitude(
    signal: np.ndarray,
    *,
    sr: int,
    hop_length: int,
    fmin: str,
    n_bins: int,
    bins_per_octave: int,
) -> np.ndarray:
    """Constant-Q magnitude, one row per semitone (for 12 bins per octave) from ``fmin`` up.

    Returns
    -------
    np.ndarray, shape (n_bins, n_frames), float32
        Row 0 is ``fmin`` (default C1, 32.7 Hz); with 96 bins the last row is B8.
    """
    remember_cqt_filters()
    return np.abs(
        librosa.cqt(
            signal,
            sr=sr,
            hop_length=hop_length,
            fmin=librosa.note_to_hz(fmin),
            n_bins=n_bins,
            bins_per_octave=bins_per_octave,
        )
    ).astype(np.float32)


def cqt_db(magnitude: np.ndarray, *, top_db: float) -> np.ndarray:
    """dB of a CQT magnitude relative to its peak, clipped to ``[-top_db, 0]``."""
    return librosa.amplitude_to_db(magnitude, ref=np.max, top_db=top_db).astype(np.float32)


def chroma_from_cqt(
    magnitude: np.ndarray, *, fmin: str, n_chroma: int, bins_per_octave: int
) -> np.ndarray:
    """Fold a CQT magnitude over octaves into pitch classes.

    Returns
    -------
    np.ndarray, shape (n_chroma, n_frames), float32 in [0, 1]
        Row 0 is C, row 9 is A (for 12 bins); each frame is max-normalised.
    """
    chroma = librosa.feature.chroma_cqt(
        C=magnitude,
        fmin=librosa.note_to_hz(fmin),
        n_chroma=n_chroma,
        bins_per_octave=bins_per_octave,
    )
    return chroma.astype(np.float32)


def compute_representations(
    signal: np.ndarray, sr: int, settings: ImageParams, names: Iterable[str] = REPRESENTATIONS
) -> dict[str, np.ndarray]:
    """Compute the named representations of one signal, sharing the CQT between cqt and chroma.

    Returns
    -------
    dict
        ``name -> np.ndarray (n_rows, n_frames)`` as returned by :func:`stft_db`,
        :func:`cqt_db` and :func:`chroma_from_cqt`.
    """
    names = tuple(names)
    unknown = set(names) - set(REPRESENTATIONS)
    if unknown:
        raise ValueError(f"unknown representations {sorted(unknown)}; use {REPRESENTATIONS}")
    result: dict[str, np.ndarray] = {}
    if "stft" in names:
        result["stft"] = stft_db(
            signal,
            n_fft=settings.stft.n_fft,
            hop_length=settings.stft.hop_length,
            top_db=settings.top_db,
        )
    cqt = settings.cqt
    if "cqt" in names or "chroma" in names:
        # chroma needs its own hop only if it differs from the cqt image's
        hops = {"cqt": cqt.hop_length, "chroma": settings.chroma.hop_length}
        magnitudes: dict[int, np.ndarray] = {}
        for name in ("cqt", "chroma"):
            if name in names and hops[name] not in magnitudes:
                magnitudes[hops[name]] = cqt_magnitude(
                    signal,
                    sr=sr,
                    hop_length=hops[name],
                    fmin=cqt.fmin,
                    n_bins=cqt.n_bins,
                    bins_per_octave=cqt.bins_per_octave,
                )
        if "cqt" in names:
            result["cqt"] = cqt_db(magnitudes[cqt.hop_length], top_db=settings.top_db)
        if "chroma" in names:
            result["chroma"] = chroma_from_cqt(
                magnitudes[settings.chroma.hop_length],
                fmin=cqt.fmin,
                n_chroma=settings.chroma.n_chroma,
                bins_per_octave=cqt.bins_per_octave,
            )
    return result


def clean_image(values: np.ndarray, *, height: int, width: int) -> np.ndarray:
    """Render a representation as a bare 8-bit image: no axes, no margins.

    Values are min-max scaled to the full 0..255 range, low frequencies (row 0) go to the
    bottom as in a spectrogram plot, and the array is resized by area averaging (box filter),
    which averages bins when shrinking and repeats them when enlarging.

    Parameters
    ----------
    values : np.ndarray, shape (n_rows, n_frames)
    height, width : int
        Output size in pixels.

    Returns
    -------
    np.ndarray, shape (height, width), uint8
    """
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    pixels = np.flipud(np.round(scaled * 255.0)).astype(np.uint8)
    image = Image.fromarray(np.ascontiguousarray(pixels), mode="L")
    resized = np.asarray(image.resize((width, height), Image.Resampling.BOX))
    return _stretch(resized)


def _stretch(pixels: np.ndarray) -> np.ndarray:
    """Rescale so the smallest pixel is 0 and the largest 255 (resizing can narrow the range)."""
    low, high = int(pixels.min()), int(pixels.max())
    if high == low:
        return np.zeros_like(pixels)
    stretched = (pixels.astype(np.float32) - low) * (255.0 / (high - low))
    return np.round(stretched).astype(np.uint8)


def figure_image(
    values: np.ndarray,
    name: str,
    *,
    sr: int,
    hop: int,
    fmin: str,
    bins_per_octave: int,
    height: int,
    width: int,
) -> np.ndarray:
    """Render a representation the paper's way: a librosa display plot saved as PNG.

    Axes, tick labels, colour bar and the figure's white margins are all kept (the paper fed
    such figure images to its CNNs); the PNG is then loaded and resized to ``(height, width)``.

    Returns
    -------
    np.ndarray, shape (height, width, 3), uint8 RGB
    """
    import librosa.display
    from matplotlib.figure import Figure  # no pyplot: no global figure state in workers

    figure = Figure(figsize=(4.32, 2.88), dpi=100)
    axes = figure.subplots()
    extra = {}
    if name == "cqt":
        extra = {"fmin": librosa.note_to_hz(fmin), "bins_per_octave": bins_per_octave}
    mesh = librosa.display.specshow(
        values, sr=sr, hop_length=hop, x_axis="time", y_axis=FIGURE_AXES[name], ax=axes, **extra
    )
    figure.colorbar(mesh, ax=axes, format="%+2.0f dB" if name != "chroma" else "%.1f")
    axes.set_title(name)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    buffer.seek(0)
    with Image.open(buffer) as png:
        rgb = png.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
        return np.asarray(rgb, dtype=np.uint8)


def _clean(values: np.ndarray, name: str, sr: int, settings: ImageParams) -> np.ndarray:
    return clean_image(values, height=settings.height, width=settings.width)[..., np.newaxis]


def _figure(values: np.ndarray, name: str, sr: int, settings: ImageParams) -> np.ndarray:
    return figure_image(
        values,
        name,
        sr=sr,
        hop=settings.hop_length(name),
        fmin=settings.cqt.fmin,
        bins_per_octave=settings.cqt.bins_per_octave,
        height=settings.height,
        width=settings.width,
    )


# params images.style: name -> (how a representation's window becomes pixels, channels)
STYLES: Choices[tuple[Callable[[np.ndarray, str, int, ImageParams], np.ndarray], int]] = Choices(
    "images.style",
    {
        "clean": (_clean, 1),  # the bare array, grey, no axes
        "figure": (_figure, 3),  # the paper's matplotlib figure, RGB
    },
)


def image_channels(style: str) -> int:
    """Channels of a rendered image in ``style`` (:data:`STYLES`): 1 (grey) or 3 (RGB)."""
    return STYLES.pick(style)[1]


def render(values: np.ndarray, name: str, sr: int, settings: ImageParams) -> np.ndarray:
    """Render one representation's window in the configured style (``settings.style``).

    Returns
    -------
    np.ndarray, shape (height, width, channels), uint8
        :func:`image_channels` of ``settings.style`` channels.
    """
    return STYLES.pick(settings.style)[0](values, name, sr, settings)
