"""The time grid every part of a clip is placed on: 4/4 bars of sixteen 16th-note steps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .dsp import smooth_curve

STEPS_PER_BEAT = 4
STEPS_PER_BAR = 16


@dataclass(frozen=True)
class Grid:
    """Onset time of every 16th-note step of a clip.

    Attributes
    ----------
    step_times : np.ndarray, shape (n_steps + 1,)
        Time in seconds of each step, with swing and rubato applied; the extra last entry is the
        end of the final step so that ``duration(step, length)`` works up to the end.
    beat_s : float
        Nominal beat length in seconds (60 / tempo).
    """

    step_times: np.ndarray
    beat_s: float

    @property
    def n_steps(self) -> int:
        """Number of complete steps on the grid."""
        return self.step_times.shape[0] - 1

    def time(self, step: int) -> float:
        """Onset in seconds of ``step`` (clamped to the grid)."""
        return float(self.step_times[min(max(step, 0), self.n_steps)])

    def duration(self, step: int, length: int) -> float:
        """Seconds from ``step`` to ``step + length``."""
        return self.time(step + length) - self.time(step)


def swing_fraction(fraction: np.ndarray, swing: float, unit: int) -> np.ndarray:
    """Delay the off-beat subdivisions of a beat.

    Parameters
    ----------
    fraction : np.ndarray
        Position inside the beat in [0, 1).
    swing : float
        0 = straight, 1 = full triplet feel (the off-beat lands at 2/3 of its pair).
    unit : int
        8 swings 8th notes (shuffle, jazz), 16 swings 16th notes (hip hop, reggae).
    """
    pair = 0.5 if unit == 8 else 0.25
    within = np.mod(fraction, pair) / pair  # position inside the swung pair, 0..1
    base = fraction - within * pair
    # Piecewise-linear warp that moves the pair midpoint from 1/2 to 1/2 + swing/6.
    middle = 0.5 + swing / 6.0
    warped = np.where(
        within < 0.5, within * (middle / 0.5), middle + (within - 0.5) * ((1.0 - middle) / 0.5)
    )
    return base + warped * pair


def build_grid(
    tempo_bpm: float,
    n_steps: int,
    *,
    swing: float,
    unit: int,
    rubato: float,
    rng: np.random.Generator,
) -> Grid:
    """Lay out ``n_steps`` 16th steps at ``tempo_bpm`` with swing and rubato.

    ``rubato`` is the relative depth of slow tempo drift (0.1 = +-10 %), used for classical
    pieces that breathe instead of following a click.
    """
    beat_s = 60.0 / tempo_bpm
    n_beats = n_steps // STEPS_PER_BEAT + 2
    beat_lengths = np.full(n_beats, beat_s)
    if rubato > 0:
        beat_lengths *= np.exp(rubato * smooth_curve(n_beats, rng, max(n_beats // 6, 1)))
    beat_times = np.concatenate([[0.0], np.cumsum(beat_lengths)])
    steps = np.arange(n_steps + 1)
    beat = steps // STEPS_PER_BEAT
    fraction = swing_fraction((steps % STEPS_PER_BEAT) / STEPS_PER_BEAT, swing, unit)
    step_times = beat_times[beat] + fraction * (beat_times[beat + 1] - beat_times[beat])
    return Grid(step_times=step_times, beat_s=beat_s)
