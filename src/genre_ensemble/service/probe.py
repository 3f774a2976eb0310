"""What an uploaded file's header says, before it is decoded: its length, and whether the file
holds all the audio the header announces.

libsndfile reads the header of wav, flac, ogg, mp3 (with or without an ID3 tag), aiff and au
files without decoding them, so an over-long file is refused before any sample is decoded (a
200 MB mp3 can hold hours). A WAV file's ``data`` chunk states its size in bytes: a file cut
short holds fewer, which libsndfile silently accepts, so :func:`probe_audio` compares the two.
For the other formats the service compares the decoded length with the header's
(:func:`truncation`), since their decoders stop early or fail on a cut file.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

# Streaming WAV writers put these in a data chunk's size when they do not know it.
UNKNOWN_SIZES = (0, 0xFFFFFFFF)
# A decoded file shorter than its header's length by more than this fraction (and more than
# TRUNCATION_SECONDS) is truncated: encoder padding and MP3 frame rounding stay below.
TRUNCATION_FRACTION = 0.01
TRUNCATION_SECONDS = 0.1


@dataclass(frozen=True)
class Probe:
    """What the header says: ``format`` (libsndfile's name, e.g. ``WAV``; None when libsndfile
    does not know the file) and ``seconds`` (the announced length; None when not stated)."""

    format: str | None
    seconds: float | None
    # a WAV file's data chunk holds fewer bytes than it announces: (announced s, held s)
    wav_shortfall: tuple[float, float] | None = None


def probe_audio(path: str | Path) -> Probe:
    """Read the header of an audio file (nothing is decoded).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Probe
        ``Probe(None, None)`` for a file libsndfile does not recognise (the decoding that
        follows says why, or tries the audioread fallback).
    """
    import soundfile

    try:
        info = soundfile.info(str(path))
    except Exception as error:  # LibsndfileError, RuntimeError: not a format it knows
        logger.debug("%s: libsndfile cannot read its header (%s)", path, error)
        return Probe(None, None)
    frames = int(info.frames)
    seconds = frames / info.samplerate if frames > 0 and info.samplerate > 0 else None
    shortfall = None
    if info.format == "WAV" and seconds is not None:
        sizes = _wav_data_sizes(Path(path))
        if sizes is not None:
            announced, held = sizes
            if announced not in UNKNOWN_SIZES and held < announced:
                shortfall = (seconds * announced / max(held, 1), seconds)
    return Probe(info.format, seconds, shortfall)


def _wav_data_sizes(path: Path) -> tuple[int, int] | None:
    """(bytes the ``data`` chunk announces, bytes the file holds after its header), or None
    when the file has no RIFF/RIFX data chunk to read."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[8:12] != b"WAVE" or head[:4] not in (b"RIFF", b"RIFX"):
            return None
        order = "<" if head[:4] == b"RIFF" else ">"
        position = 12
        while position + 8 <= size:
            handle.seek(position)
            chunk, length = struct.unpack(f"{order}4sI", handle.read(8))
            if chunk == b"data":
                return length, size - position - 8
            position += 8 + length + (length & 1)
    return None


def truncation(probe: Probe, decoded_seconds: float) -> str | None:
    """The reason a file is truncated, or None.

    Parameters
    ----------
    probe : Probe
        Its header.
    decoded_seconds : float
        The length its samples decoded to.
    """
    if probe.wav_shortfall is not None:
        announced, held = probe.wav_shortfall
        return (f"the file is truncated: its header announces {announced:.2f} s of audio but "
                f"it holds {held:.2f} s")
    if probe.seconds is None:
        return None
    missing = probe.seconds - decoded_seconds
    if missing > max(TRUNCATION_SECONDS, TRUNCATION_FRACTION * probe.seconds):
        return (f"the file is truncated: its header announces {probe.seconds:.2f} s of audio "
                f"but only {decoded_seconds:.2f} s decode")
    return None
