"""Statistics of cross-validation variants: fold means with t intervals, pooled confusion, and
paired comparisons on the same clips (exact McNemar, paired bootstrap).

Input is a variant's long outcomes table (see
:func:`genre_ensemble.experiments.crossval.group_variants`): one row per (replicate, test clip)
with columns ``replicate``, ``track``, ``genre`` and one predicted-genre column per model. No
TensorFlow here.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from statsmodels.stats.contingency_tables import mcnemar

from genre_ensemble.core.labels import label_set
from genre_ensemble.experiments.crossval import REPLICATE
from genre_ensemble.experiments.intervals import Interval

logger = logging.getLogger(__name__)

UNIT = (REPLICATE, "track")  # one paired observation: a clip in one fold / replicate


@dataclass(frozen=True)
class VariantSummary:
    """Fold-level summary of one variant for one model."""

    name: str
    folds: int  # replicates (folds x seeds) averaged over
    clips: int  # (replicate, clip) test outcomes pooled
    accuracy: Interval  # mean over folds, 95 % t interval
    f1: Interval  # macro F1 over the ten genres, mean over folds, 95 % t interval
    confusion: np.ndarray  # (n_labels, n_labels) counts pooled over folds; rows true, columns
    # predicted, in labels order
    labels: tuple[str, ...] = ()  # the label set (the outcomes' true labels, sorted)


@dataclass(frozen=True)
class PairedComparison:
    """``variant`` against ``baseline`` on the (replicate, clip) pairs both have."""

    variant: str
    baseline: str
    pairs: int
    clips: int  # distinct clips among the pairs: the bootstrap's resampling unit
    difference: Interval  # accuracy(variant) - accuracy(baseline), paired bootstrap interval
    baseline_only: int  # McNemar b: baseline right, variant wrong
    variant_only: int  # McNemar c: baseline wrong, variant right
    pvalue: float  # exact (binomial) McNemar test, two-sided


def mean_interval(values: np.ndarray, *, level: float = 0.95) -> Interval:
    """Mean of per-fold scores with a Student-t interval (``scipy.stats.t``, ``sem``).

    Folds share training clips, so their scores are not independent and this interval is
    somewhat too narrow (Nadeau & Bengio, 2003); it is the customary summary of k-fold results.

    Parameters
    ----------
    values : np.ndarray, shape (n_folds,)
    level : float
        Confidence level.

    Returns
    -------
    Interval
        NaN bounds for fewer than two folds; equal bounds when all folds agree.
    """
    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    if len(values) < 2:
        return Interval(mean, float("nan"), float("nan"))
    sem = float(stats.sem(values))
    if sem == 0:
        return Interval(mean, mean, mean)
    low, high = stats.t.interval(level, df=len(values) - 1, loc=mean, scale=sem)
    return Interval(mean, float(low), float(high))


def fold_scores(outcomes: pd.DataFrame, *, model: str) -> pd.DataFrame:
    """Accuracy and macro F1 of ``model`` in each replicate (fold).

    Returns
    -------
    pd.DataFrame
        Index replicate; columns accuracy, f1 (macro over the label set, zero where a label is
        never predicted, as in :func:`genre_ensemble.evaluation.metrics.classification_metrics`),
        n.
    """
    labels = list(label_set(outcomes["genre"]))
    rows = {}
    for replicate, fold in outcomes.groupby(REPLICATE, sort=True):
        rows[replicate] = {
            "accuracy": accuracy_score(fold["genre"], fold[model]),
            "f1": f1_score(fold["genre"], fold[model], labels=labels, average="macro",
                           zero_division=0),
            "n": len(fold),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def pooled_confusion(outcomes: pd.DataFrame, *, model: str) -> np.ndarray:
    """Confusion counts ``(n_labels, n_labels)`` over all folds: rows true label, columns
    predicted, labels sorted (:func:`genre_ensemble.core.labels.label_set`)."""
    return confusion_matrix(outcomes["genre"], outcomes[model],
                            labels=list(label_set(outcomes["genre"])))


def summarize_variant(
    name: str, outcomes: pd.DataFrame, *, model: str = "ensemble", level: float = 0.95
) -> VariantSummary:
    """Mean accuracy and macro F1 over folds with t intervals, and the pooled confusion."""
    scores = fold_scores(outcomes, model=model)
    return VariantSummary(
        name=name,
        folds=len(scores),
        clips=len(outcomes),
        accuracy=mean_interval(scores["accuracy"].to_numpy(), level=level),
        f1=mean_interval(scores["f1"].to_numpy(), level=level),
        confusion=pooled_confusion(outcomes, model=model),
        labels=label_set(outcomes["genre"]),
    )


def paired_correctness(
    baseline: pd.DataFrame, variant: pd.DataFrame, *, model: str = "ensemble"
) -> pd.DataFrame:
    """Clip-level correctness of two variants on the (replicate, clip) pairs both have.

    Returns
    -------
    pd.DataFrame
        Columns replicate, track, baseline, variant (booleans: was the prediction right).

    Raises
    ------
    ValueError
        When a (replicate, clip) appears twice in one table, or a shared clip has two true
        genres (the runs did not use the same data).
    """
    for table, label in ((baseline, "baseline"), (variant, "variant")):
        if table.duplicated(list(UNIT)).any():
            raise ValueError(f"{label}: a clip appears twice in one replicate")
    pairs = baseline[[*UNIT, "genre", model]].merge(
        variant[[*UNIT, "genre", model]], on=list(UNIT), suffixes=("_a", "_b")
    )
    if not (pairs["genre_a"] == pairs["genre_b"]).all():
        raise ValueError("a shared clip has different true genres in the two variants")
    dropped = max(len(baseline), len(variant)) - len(pairs)
    if dropped:
        logger.info("%d (replicate, clip) outcomes have no partner and are not paired", dropped)
    return pd.DataFrame(
        {
            REPLICATE: pairs[REPLICATE],
            "track": pairs["track"],
            "baseline": pairs[f"{model}_a"] == pairs["genre_a"],
            "variant": pairs[f"{model}_b"] == pairs["genre_b"],
        }
    )


def mcnemar_exact(baseline: np.ndarray, variant: np.ndarray) -> tuple[int, int, float]:
    """Exact McNemar test of paired correctness (statsmodels, binomial on discordant pairs).

    Parameters
    ----------
    baseline, variant : np.ndarray of bool, shape (n_pairs,)

    Returns
    -------
    (b, c, pvalue)
        b: pairs only the baseline got right; c: pairs only the variant got right; the
        two-sided exact p-value (1.0 when there are no discordant pairs).
    """
    baseline = np.asarray(baseline, dtype=bool)
    variant = np.asarray(variant, dtype=bool)
    table = [
        [int(np.sum(baseline & variant)), int(np.sum(baseline & ~variant))],
        [int(np.sum(~baseline & variant)), int(np.sum(~baseline & ~variant))],
    ]
    result = mcnemar(table, exact=True)
    return table[0][1], table[1][0], float(result.pvalue)


def paired_bootstrap_difference(
    pairs: pd.DataFrame, *, resamples: int = 9999, seed: int = 0, level: float = 0.95
) -> Interval:
    """Accuracy difference (variant - baseline) with a paired bootstrap interval over clips.

    The resampling unit is the clip (``track``): rows of one clip (its folds / seeds, or windows
    if a table holds them) are first averaged into the clip's correctness, so clips weigh
    equally and the rows of one clip are never split across a resample. The two variants'
    clip scores are resampled together (``scipy.stats.bootstrap`` with ``paired=True``,
    percentile method: defined even when every clip agrees, unlike BCa).

    Parameters
    ----------
    pairs : pd.DataFrame
        Columns track, baseline, variant (0/1 or bool), as from :func:`paired_correctness`.
    resamples : int
    seed : int
    level : float

    Returns
    -------
    Interval
        The clip-mean difference in [-1, 1] and its bootstrap interval.
    """
    clips = pairs.groupby("track", sort=True)[["baseline", "variant"]].mean()
    baseline = clips["baseline"].to_numpy(dtype=np.float64)
    variant = clips["variant"].to_numpy(dtype=np.float64)

    def difference(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        return b.mean(axis=axis) - a.mean(axis=axis)

    value = float(difference(baseline, variant))
    if len(clips) < 2:
        return Interval(value, float("nan"), float("nan"))
    result = stats.bootstrap(
        (baseline, variant),
        difference,
        paired=True,
        vectorized=True,
        n_resamples=resamples,
        confidence_level=level,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    interval = result.confidence_interval
    return Interval(value, float(interval.low), float(interval.high))


def compare_variants(
    baseline_name: str,
    baseline: pd.DataFrame,
    variant_name: str,
    variant: pd.DataFrame,
    *,
    model: str = "ensemble",
    resamples: int = 9999,
    seed: int = 0,
    level: float = 0.95,
) -> PairedComparison | None:
    """Paired comparison of two variants on their shared (replicate, clip) pairs.

    Returns
    -------
    PairedComparison or None
        ``None`` when the variants share no (replicate, clip) pair (different folds or seeds).
    """
    pairs = paired_correctness(baseline, variant, model=model)
    if pairs.empty:
        return None
    b, c, pvalue = mcnemar_exact(pairs["baseline"].to_numpy(), pairs["variant"].to_numpy())
    return PairedComparison(
        variant=variant_name,
        baseline=baseline_name,
        pairs=len(pairs),
        clips=int(pairs["track"].nunique()),
        difference=paired_bootstrap_difference(pairs, resamples=resamples, seed=seed,
                                               level=level),
        baseline_only=b,
        variant_only=c,
        pvalue=pvalue,
    )


def as_dict(result: VariantSummary | PairedComparison) -> dict:
    """A JSON-ready dict of a summary or comparison (arrays as nested lists)."""
    payload = asdict(result)
    if isinstance(result, VariantSummary):
        payload["confusion"] = result.confusion.tolist()
    return payload
