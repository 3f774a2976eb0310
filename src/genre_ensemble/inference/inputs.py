"""Turn audio into what each member takes, cut and prepared exactly as the pipeline cuts and
prepares its clips.

- a signal shorter than ``data.clip_seconds`` is padded with trailing silence to that length,
  as the pipeline's :func:`genre_ensemble.corpus.audio.conform` pads its clips;
- a longer signal is cut into consecutive clips of ``data.clip_seconds``; a tail left after
  the last whole clip becomes one more clip, ending at the signal's end (it overlaps the one
  before rather than being padded), only when it is more than :data:`CLIP_TOLERANCE` (5 %) of
  a clip: a shorter tail is dropped, as the pipeline trims a clip at its end. So a file at most
  5 % longer than a clip (GTZAN's 30.013 s files with 30 s clips) is exactly the pipeline's
  clip and gets, bit for bit, the inputs the pipeline's own evaluation path gives it, instead
  of a second near-duplicate clip. Clips that are digital silence are skipped. Every clip is
  treated as one pipeline clip.

A file more than :data:`CLIP_TOLERANCE` shorter than a clip is padded all the same, with a
warning: the members never saw that much silence in training.

What a member needs from a clip is its kind's business (:meth:`~genre_ensemble.members.base.
Predictor.prepare`); this module names no member. librosa is imported only when audio is
processed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genre_ensemble.core.params import Member, Params

logger = logging.getLogger(__name__)

# How far (fraction of data.clip_seconds) a file's length may stray from a clip's and still be
# one pipeline clip (longer: trimmed, no second near-duplicate clip) without a warning
# (shorter: padded). 5 % covers GTZAN's files (30.013 s, a few 29.9 s): 1.5 s of a 30 s clip.
CLIP_TOLERANCE = 0.05


@dataclass(frozen=True)
class Clip:
    """One pipeline-length clip of a file and where in the file it lies (seconds)."""

    signal: np.ndarray  # (round(clip_seconds * sample_rate),) at data.sample_rate
    start: float
    end: float  # the file's end for a padded short file or the tail clip


@dataclass(frozen=True)
class MemberInputs:
    """What the members need for one file: each member's rows of each of its clips.

    Small and picklable, so worker processes can prepare it while the models predict.
    """

    rows: dict[str, list[np.ndarray]]  # member -> [rows of clip 0, rows of clip 1, ...]
    seconds: float  # length of the decoded audio
    spans: tuple[tuple[float, float], ...]  # (start, end) seconds of each clip, in order

    @property
    def clips(self) -> int:
        """Clips of ``data.clip_seconds`` the audio was cut into."""
        return len(self.spans)

    @property
    def windows(self) -> int:
        """The most rows any member classifies for this file (windows, for the CNNs)."""
        return max((self.row_count(name) for name in self.rows), default=self.clips)

    def row_count(self, member: str) -> int:
        """How many probability vectors ``member`` gives for this file (averaged to one)."""
        return sum(len(rows) for rows in self.rows[member])

    def clip_rows(self, member: str) -> list[int]:
        """How many of ``member``'s rows each clip has."""
        return [len(rows) for rows in self.rows[member]]


def cut_clips(signal: np.ndarray, sr: int, clip_seconds: float) -> list[Clip]:
    """Cut a signal into the pipeline-length clips it is classified from.

    Parameters
    ----------
    signal : np.ndarray, shape (n_samples,)
    sr : int
        Sample rate in Hz.
    clip_seconds : float
        ``data.clip_seconds``.

    Returns
    -------
    list of Clip, each signal of shape (round(clip_seconds * sr),)
        One clip padded with silence for a signal shorter than a clip; otherwise consecutive
        clips, plus one ending at the signal's end when the tail after the last whole clip is
        more than :data:`CLIP_TOLERANCE` of a clip (a shorter tail is dropped, as the pipeline
        trims), silent clips left out (unless all are silent). A signal at most
        :data:`CLIP_TOLERANCE` longer than a clip is thus its first clip, as the pipeline cuts
        it.
    """
    from genre_ensemble.corpus.audio import fix_length, is_silent

    size = int(round(clip_seconds * sr))
    length = signal.shape[0]
    if length < size:
        return [Clip(fix_length(signal, size), 0.0, length / sr)]
    starts = list(range(0, length - size + 1, size))
    if length - (starts[-1] + size) > CLIP_TOLERANCE * size:
        starts.append(length - size)  # a tail worth a clip of its own
    clips = [Clip(signal[start : start + size], start / sr, (start + size) / sr)
             for start in starts]
    audible = [clip for clip in clips if not is_silent(clip.signal)]
    return audible or clips


def clip_inputs(clips: Sequence[Clip], params: Params, members: Sequence[Member], *,
                seconds: float, root: str | Path = ".") -> MemberInputs:
    """Every member's rows of pipeline-length clips at ``data.sample_rate``.

    Parameters
    ----------
    clips : sequence of Clip
        From :func:`cut_clips`.
    members : sequence of Member
        The members to prepare for; each kind prepares its members together (sharing work).
    seconds : float
        The length of the audio the clips were cut from (reported only).
    root : str or Path
        The workspace the members were trained in (a kind may read files there, e.g. the
        pretrained weights).
    """
    from genre_ensemble.members.predictors import predictor_of

    signals = [clip.signal for clip in clips]
    rows: dict[str, list[np.ndarray]] = {}
    by_kind: dict[str, list[Member]] = {}
    for member in members:
        by_kind.setdefault(member.kind, []).append(member)
    for kind_members in by_kind.values():
        rows.update(predictor_of(kind_members[0]).prepare(signals, kind_members, params,
                                                          root=Path(root)))
    return MemberInputs(rows={member.name: rows[member.name] for member in members},
                        seconds=seconds, spans=tuple((clip.start, clip.end) for clip in clips))


def signal_inputs(
    signal: np.ndarray,
    sr: int,
    params: Params,
    members: Sequence[Member],
    *,
    root: str | Path = ".",
) -> MemberInputs:
    """Resample a mono signal to ``data.sample_rate``, cut it and prepare every member's input.

    Raises
    ------
    genre_ensemble.core.errors.AudioError
        If the signal is empty or digital silence.
    """
    from genre_ensemble.corpus.audio import conform

    signal = np.asarray(signal, dtype=np.float32)
    if signal.ndim != 1:
        raise ValueError(f"expected a mono signal, got shape {signal.shape}")
    signal = conform(signal, sr, sample_rate=params.data.sample_rate, seconds=None)
    clips = cut_clips(signal, params.data.sample_rate, params.data.clip_seconds)
    return clip_inputs(clips, params, members, seconds=signal.shape[0] / params.data.sample_rate,
                       root=root)


def warn_if_short(path: str | Path, *, seconds: float, clip_seconds: float) -> bool:
    """Warn when a file is so short that padding it changes what the members see.

    Parameters
    ----------
    seconds : float
        The file's length in seconds.
    clip_seconds : float
        ``data.clip_seconds``.

    Returns
    -------
    bool
        True when it warned: the file is more than :data:`CLIP_TOLERANCE` shorter than a clip.
    """
    missing = clip_seconds - seconds
    if missing <= CLIP_TOLERANCE * clip_seconds:
        return False
    logger.warning(
        "%s lasts %.2f s, %.2f s less than the %g s clips the members were trained on: padded "
        "with silence (as the pipeline pads its clips)", path, seconds, missing, clip_seconds,
    )
    return True


def file_inputs(
    path: str | Path,
    params: Params,
    members: Sequence[Member],
    *,
    root: str | Path = ".",
) -> MemberInputs:
    """Decode a file like the pipeline does (mono, ``data.sample_rate``) and prepare inputs.

    Raises
    ------
    genre_ensemble.core.errors.AudioError
        Missing, empty, undecodable or silent file.
    """
    from genre_ensemble.core.quiet import native_stderr_to_log
    from genre_ensemble.corpus.audio import load_clip

    with native_stderr_to_log(logger):  # the decoders' own notes on a broken file
        signal = load_clip(path, sample_rate=params.data.sample_rate, seconds=None)
    seconds = signal.shape[0] / params.data.sample_rate
    warn_if_short(path, seconds=seconds, clip_seconds=params.data.clip_seconds)
    clips = cut_clips(signal, params.data.sample_rate, params.data.clip_seconds)
    return clip_inputs(clips, params, members, seconds=seconds, root=root)
