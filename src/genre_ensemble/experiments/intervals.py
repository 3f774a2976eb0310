"""A point estimate with its interval, and its one text form (tables, the report). Light: no
statistics libraries, so the command-line parser stays fast."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Interval:
    """A point estimate and its interval (``low``/``high`` are NaN when undefined)."""

    value: float
    low: float
    high: float


def format_interval(value: Interval, *, percent: bool = True, signed: bool = False) -> str:
    """``84.2 % [80.1, 88.3]`` (percent), ``0.842 [0.801, 0.883]``, or with ``signed``
    ``+3.0 pp [+1.0, +5.0]``; ``[n/a]`` when the interval is undefined (one fold)."""
    if signed:
        scale, digits, unit, sign = 100, 1, " pp", "+"
    else:
        scale, digits, unit, sign = (100, 1, " %", "") if percent else (1, 3, "", "")
    low, mid, high = (f"{x * scale:{sign}.{digits}f}" for x in (value.low, value.value,
                                                              value.high))
    if value.low != value.low:  # NaN: fewer than two folds
        return f"{mid}{unit} [n/a]"
    return f"{mid}{unit} [{low}, {high}]"
