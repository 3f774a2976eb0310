from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genre_ensemble.core.labels import GTZAN_GENRES as GENRES
from genre_ensemble.evaluation.combine import (
    combine,
    fit_ensemble_weights,
    learn_weights,
    log_loss,
    weighted_sum,
)


def _random_probabilities(rng, n: int) -> np.ndarray:
    raw = rng.random((n, len(GENRES)))
    return raw / raw.sum(axis=1, keepdims=True)


def test_equal_weights_give_the_papers_sum_then_argmax():
    rng = np.random.default_rng(0)
    members = [_random_probabilities(rng, 50) for _ in range(3)]
    paper = np.argmax(members[0] + members[1] + members[2], axis=1)
    ours = weighted_sum(members, [1, 1, 1])
    np.testing.assert_array_equal(np.argmax(ours, axis=1), paper)
    np.testing.assert_allclose(ours.sum(axis=1), 1.0)


def test_weights_scale_each_member():
    a = np.array([[0.9, 0.1] + [0.0] * 8])
    b = np.array([[0.2, 0.8] + [0.0] * 8])
    np.testing.assert_allclose(weighted_sum([a, b], [2, 1])[0, :2], [(1.8 + 0.2) / 3, 1.0 / 3])
    assert np.argmax(weighted_sum([a, b], [1, 3])) == 1
    np.testing.assert_allclose(weighted_sum([a, b], [1, 0]), a)


@pytest.mark.parametrize("weights", [[1, -1], [0, 0], [1]])
def test_bad_weights_raise(weights):
    a = np.full((1, 10), 0.1)
    with pytest.raises(ValueError):
        weighted_sum([a, a], weights)


def test_learned_weights_favour_the_informative_member():
    rng = np.random.default_rng(1)
    targets = rng.integers(0, 10, 300)
    informative = np.full((300, 10), 0.02)
    informative[np.arange(300), targets] = 0.82
    noise = _random_probabilities(rng, 300)
    weights = fit_ensemble_weights([noise, informative], targets)
    assert weights.sum() == pytest.approx(1.0)
    assert np.all(weights >= 0)
    assert weights[1] > 0.9
    fitted = log_loss(weighted_sum([noise, informative], weights), targets)
    assert fitted <= log_loss(weighted_sum([noise, informative], [1, 1]), targets)


def _table(rng, targets, splits, quality):
    probs = _random_probabilities(rng, len(targets)) * (1 - quality)
    probs[np.arange(len(targets)), targets] += quality
    table = pd.DataFrame(probs, columns=list(GENRES))
    table.insert(0, "split", splits)
    table.insert(0, "genre", [GENRES[t] for t in targets])
    table.insert(0, "track", [f"{GENRES[t]}.{i:05d}" for i, t in enumerate(targets)])
    return table


def test_learned_weights_look_only_at_calibration_clips():
    """Not test clips, and not validation clips (members early-stopped on those)."""
    rng = np.random.default_rng(2)
    targets = rng.integers(0, 10, 300)
    splits = np.array(["val"] * 100 + ["calib"] * 100 + ["test"] * 100)
    tables = {"a": _table(rng, targets, splits, 0.6), "b": _table(rng, targets, splits, 0.1)}
    before = learn_weights(tables)
    assert before[0] > before[1]  # the member right on calibration clips gets the weight
    scrambled = {name: table.copy() for name, table in tables.items()}
    elsewhere = scrambled["a"]["split"].isin(["val", "test"])
    scrambled["a"].loc[elsewhere, list(GENRES)] = 0.1  # destroy a's val and test predictions
    np.testing.assert_allclose(learn_weights(scrambled), before)
    without = {name: table[table["split"] != "calib"] for name, table in tables.items()}
    with pytest.raises(ValueError, match="calibration"):
        learn_weights(without)


def test_combine_rejects_members_with_other_clips():
    rng = np.random.default_rng(3)
    targets = rng.integers(0, 10, 20)
    splits = ["val"] * 10 + ["test"] * 10
    a = _table(rng, targets, splits, 0.5)
    b = a.iloc[:-1]
    with pytest.raises(ValueError, match="other clips"):
        combine({"a": a, "b": b}, [1, 1])
    result = combine({"a": a, "b": a}, [1, 1])
    np.testing.assert_allclose(
        result.sort_values("track")[list(GENRES)].to_numpy(),
        a.sort_values("track")[list(GENRES)].to_numpy(),
    )


def test_members_are_aligned_by_clip_whatever_their_row_order():
    rng = np.random.default_rng(5)
    targets = rng.integers(0, 10, 40)
    splits = ["val"] * 20 + ["test"] * 20
    a, b = _table(rng, targets, splits, 0.5), _table(rng, targets, splits, 0.2)
    in_order = combine({"a": a, "b": b}, [1, 2])
    shuffled = combine({"a": a, "b": b.sample(frac=1, random_state=1)}, [1, 2])
    pd.testing.assert_frame_equal(in_order, shuffled)
    by_track = in_order.set_index("track")
    expected = (a.set_index("track")[list(GENRES)] + 2 * b.set_index("track")[list(GENRES)]) / 3
    np.testing.assert_allclose(by_track.loc[expected.index, list(GENRES)], expected)
