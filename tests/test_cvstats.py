"""Cross-validation statistics on generated outcomes: fold intervals, McNemar, paired bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genre_ensemble.core.labels import GTZAN_GENRES as GENRES
from genre_ensemble.experiments.compare import compare, format_tables, to_json
from genre_ensemble.experiments.stats import (
    compare_variants,
    mean_interval,
    paired_bootstrap_difference,
    paired_correctness,
    summarize_variant,
)

FOLDS = 5
CLIPS_PER_FOLD = 40


def _outcomes(correct: np.ndarray, *, seed: int = 0) -> pd.DataFrame:
    """A variant's long outcomes table: fold k holds clips k*40 .. k*40+39, right where
    ``correct`` (shape (folds * clips,)) says, otherwise a random other genre."""
    rng = np.random.default_rng(seed)
    rows = []
    for index, right in enumerate(correct):
        genre = GENRES[index % len(GENRES)]
        wrong = GENRES[(index + 1 + rng.integers(0, len(GENRES) - 1)) % len(GENRES)]
        rows.append(
            {
                "replicate": f"split.fold={index // CLIPS_PER_FOLD}",
                "track": f"{genre}.{index:05d}",
                "genre": genre,
                "ensemble": genre if right else wrong,
            }
        )
    return pd.DataFrame(rows)


def _hits(accuracy: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(FOLDS * CLIPS_PER_FOLD) < accuracy


def test_mean_interval_covers_the_mean_and_narrows_with_more_folds():
    rng = np.random.default_rng(1)
    few, many = rng.normal(0.8, 0.05, 4), rng.normal(0.8, 0.05, 40)
    for values in (few, many):
        result = mean_interval(values)
        assert result.value == pytest.approx(values.mean())
        assert result.low < result.value < result.high
        assert result.value - result.low == pytest.approx(result.high - result.value)
    assert (mean_interval(many).high - mean_interval(many).low) < (
        mean_interval(few).high - mean_interval(few).low
    )
    assert np.isnan(mean_interval(np.array([0.7])).low)  # one fold: no interval


def test_variant_summary_counts_folds_and_pools_the_confusion():
    hits = _hits(0.7, seed=2)
    outcomes = _outcomes(hits)
    summary = summarize_variant("a", outcomes)
    assert summary.folds == FOLDS and summary.clips == len(hits)
    assert summary.accuracy.value == pytest.approx(hits.mean())  # equal-sized folds
    assert summary.confusion.sum() == len(hits)
    assert np.trace(summary.confusion) == hits.sum()
    assert summary.accuracy.low < summary.accuracy.value < summary.accuracy.high
    assert 0 < summary.f1.value < 1


def test_variant_right_on_more_clips_is_better_with_a_small_mcnemar_p():
    base = _hits(0.6, seed=3)
    better = base.copy()
    fixed = np.flatnonzero(~base)[:40]  # the variant also gets 40 of the baseline's misses
    better[fixed] = True
    result = compare_variants("base", _outcomes(base), "better", _outcomes(better, seed=9))
    assert result.pairs == len(base)
    assert (result.baseline_only, result.variant_only) == (0, 40)
    assert result.difference.value == pytest.approx(40 / len(base))
    assert 0 < result.difference.low <= result.difference.value <= result.difference.high
    assert result.pvalue < 1e-6
    reverse = compare_variants("better", _outcomes(better), "base", _outcomes(base))
    assert reverse.difference.value == pytest.approx(-result.difference.value)
    assert reverse.pvalue == pytest.approx(result.pvalue)


def test_identical_variants_have_p_one_and_a_zero_difference():
    outcomes = _outcomes(_hits(0.7, seed=4))
    result = compare_variants("a", outcomes, "b", outcomes.copy())
    assert result.pvalue == 1.0
    assert result.baseline_only == result.variant_only == 0
    assert result.difference.value == result.difference.low == result.difference.high == 0


def test_bootstrap_resamples_clips_not_windows():
    rng = np.random.default_rng(5)
    clips = pd.DataFrame(
        {
            "track": [f"clip{i:03d}" for i in range(60)],
            "baseline": rng.random(60) < 0.6,
            "variant": rng.random(60) < 0.75,
        }
    )
    # every clip cut into 2..9 windows that share the clip's decision
    windows = clips.loc[clips.index.repeat(rng.integers(2, 10, len(clips)))]
    windows = windows.sample(frac=1, random_state=0).reset_index(drop=True)
    on_clips = paired_bootstrap_difference(clips, resamples=2000, seed=7)
    on_windows = paired_bootstrap_difference(windows, resamples=2000, seed=7)
    assert on_windows == on_clips
    # a window-level resample would use ~5x more units and give a clearly narrower interval
    as_units = windows.assign(track=[f"w{i}" for i in range(len(windows))])
    narrow = paired_bootstrap_difference(as_units, resamples=2000, seed=7)
    assert (narrow.high - narrow.low) < 0.7 * (on_clips.high - on_clips.low)


def test_pairs_are_only_the_shared_fold_and_clip_outcomes():
    a = _outcomes(_hits(0.7, seed=6))
    b = _outcomes(_hits(0.7, seed=7)).iloc[: 3 * CLIPS_PER_FOLD]  # only folds 0-2 ran
    pairs = paired_correctness(a, b.sample(frac=1, random_state=1))
    assert len(pairs) == 3 * CLIPS_PER_FOLD
    merged = a.merge(pairs, on=["replicate", "track"])
    assert (merged["baseline"] == (merged["ensemble"] == merged["genre"])).all()
    other_fold = b.assign(replicate="split.fold=9")
    assert compare_variants("a", a, "b", other_fold) is None
    relabelled = b.assign(genre=b["genre"].iloc[::-1].to_numpy())
    with pytest.raises(ValueError, match="different true genres"):
        paired_correctness(a, relabelled)


def test_compare_prefers_the_paper_baseline_and_prints_every_variant():
    variants = {
        "default": _outcomes(_hits(0.8, seed=8)),
        "paper": _outcomes(_hits(0.6, seed=9)),
        "deep": _outcomes(_hits(0.7, seed=10)),
    }
    result = compare(variants, resamples=500)
    assert result["baseline"] == "paper"
    assert sorted(c.variant for c in result["comparisons"]) == ["deep", "default"]
    text = format_tables(result)
    assert all(name in text for name in variants)
    payload = to_json(result)
    assert len(payload["variants"]["paper"]["confusion"]) == len(GENRES)
    assert compare(variants, baseline="deep", resamples=500)["baseline"] == "deep"


def test_the_report_shows_variants_paired_tests_and_pooled_confusions():
    from genre_ensemble.report.html import Page
    from genre_ensemble.report.sections import cv_section

    worse, better = _hits(0.5, seed=1), _hits(0.5, seed=1) | _hits(0.5, seed=2)
    result = compare({"paper": _outcomes(worse), "default": _outcomes(better, seed=3)},
                     resamples=999)
    page = Page(mode="interactive")
    html = cv_section(page, result)
    assert "Cross-validation" in html and "paper" in html and "default" in html
    (comparison,) = result["comparisons"]
    assert comparison.variant == "default" and comparison.baseline_only == 0
    assert f"{comparison.pvalue:.3g}" in html
    assert page.count == 2  # one pooled confusion matrix per variant
    assert cv_section(Page(), None) == ""
