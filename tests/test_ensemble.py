from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genre_ensemble.core.labels import GTZAN_GENRES as GENRES
from genre_ensemble.core.params import EnsembleParams
from genre_ensemble.evaluation.combine import (
    combine,
    ensemble_weights,
    fit_ensemble_weights,
    held_out_rows,
    learn_weights,
    log_loss,
    select_combination,
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


# ---------------------------------------------------------------------------------------------
# ensemble.method: selected


def _member(rng, targets, quality, *, confident=0.0):
    """Probabilities right on a ``quality`` fraction of clips (others spread at random)."""
    n = len(targets)
    probs = _random_probabilities(rng, n)
    right = rng.random(n) < quality
    probs[right, targets[right]] += 1.0 + confident
    return probs / probs.sum(axis=1, keepdims=True)


def test_selection_keeps_the_best_member_alone_when_the_others_only_add_noise():
    rng = np.random.default_rng(10)
    targets = np.repeat(np.arange(10), 20)
    strong = _member(rng, targets, 0.9, confident=3.0)
    noise = [_random_probabilities(rng, len(targets)) for _ in range(3)]
    selection = select_combination([*noise, strong], targets, folds=5)
    assert selection.chosen in ("best", "weights")
    assert selection.weights[3] > 0.9 and selection.weights.sum() == pytest.approx(1.0)
    assert selection.scores["equal"]["log_loss"] > selection.scores[selection.chosen]["log_loss"]
    # the evidence is out of sample: a member that memorised the held-out clips would not help
    assert selection.clips == len(targets)


def test_selection_combines_members_that_complement_each_other():
    """Two members, each right on its own half of the labels: together they beat either."""
    rng = np.random.default_rng(11)
    targets = np.repeat(np.arange(10), 24)
    low = _member(rng, targets, 0.95, confident=2.0)
    high = _member(rng, targets, 0.95, confident=2.0)
    low[targets >= 5] = _random_probabilities(rng, int((targets >= 5).sum()))
    high[targets < 5] = _random_probabilities(rng, int((targets < 5).sum()))
    selection = select_combination([low, high], targets, folds=5)
    assert selection.chosen in ("equal", "weights")
    assert min(selection.weights) > 0.2
    best_alone = max(np.mean(p.argmax(axis=1) == targets) for p in (low, high))
    assert selection.scores[selection.chosen]["accuracy"] > best_alone + 0.2


def test_selection_needs_two_held_out_clips_of_every_label():
    targets = np.array([0, 0, 1, 1, 2])
    probs = np.full((5, 3), 1 / 3)
    with pytest.raises(ValueError, match="two or more held-out clips of every label"):
        select_combination([probs, probs], targets, folds=5)


def test_too_few_held_out_clips_fall_back_to_equal_weights_and_say_why(caplog):
    """A corpus of a few clips per label still gets its ensemble (the stage does not fail)."""
    rng = np.random.default_rng(14)
    targets = np.arange(10)  # one val clip per genre: nothing to cross-validate on
    splits = np.array(["val"] * 10)
    tables = {"a": _table(rng, targets, splits, 0.9), "b": _table(rng, targets, splits, 0.1)}
    settings = EnsembleParams(members=("a", "b"), method="selected", weights=None, folds=5,
                              seed=0)
    with caplog.at_level("WARNING"):
        weights = ensemble_weights(tables, settings)
    assert weights.values == [1.0, 1.0]
    assert weights.record["selection"]["chosen"] == "equal"
    assert "two or more held-out clips" in weights.record["selection"]["reason"]
    assert "using equal weights" in caplog.text
    more = np.repeat(np.arange(10), 4)
    tables = {"a": _table(rng, more, np.array(["val"] * 40), 0.9),
              "b": _table(rng, more, np.array(["val"] * 40), 0.1)}
    chosen = ensemble_weights(tables, settings)
    assert "reason" not in chosen.record["selection"] and chosen.values[0] > chosen.values[1]


def test_held_out_rows_are_every_non_test_clip_all_members_predicted():
    """A cross-fitted member's out-of-fold train rows count only when every member has them."""
    rng = np.random.default_rng(12)
    targets = rng.integers(0, 10, 30)
    splits = np.array(["train"] * 10 + ["val"] * 10 + ["test"] * 10)
    crossed = _table(rng, targets, splits, 0.5)
    cnn = crossed[crossed["split"] != "train"].sample(frac=1, random_state=0)  # no train rows
    probabilities, truth = held_out_rows({"crossed": crossed, "cnn": cnn})
    val = crossed[crossed["split"] == "val"].sort_values("track")
    np.testing.assert_array_equal(truth, [GENRES.index(g) for g in val["genre"]])
    np.testing.assert_allclose(probabilities[0], val[list(GENRES)].to_numpy())
    np.testing.assert_allclose(probabilities[1],
                               cnn.set_index("track").loc[val["track"], list(GENRES)].to_numpy())
    both, truth = held_out_rows({"a": crossed, "b": crossed})
    assert len(truth) == 20  # train and val rows, never the test rows
    assert len(combine({"crossed": crossed, "cnn": cnn}, [1, 1])) == 20  # val and test only


def test_cross_fitting_predicts_train_and_val_clips_out_of_fold():
    from genre_ensemble.members.classifier import fit_predict

    rng = np.random.default_rng(13)
    labels = ("a", "b")
    rows = []
    for clip in range(40):
        label = clip % 2
        split = "train" if clip < 24 else "val" if clip < 32 else "test"
        centre = rng.normal(size=3) * 0.3 + (1.5 if label else -1.5)
        for window in range(3):  # a clip's windows resemble each other more than other clips
            values = centre + 0.1 * rng.normal(size=3)
            rows.append({"track": f"t{clip:02d}", "genre": labels[label], "split": split,
                         "window": window, **dict(zip("xyz", values, strict=True))})
    table = pd.DataFrame(rows)
    model, plain = fit_predict(table, "logistic", 0, labels)
    crossed_model, crossed = fit_predict(table, "logistic", 0, labels, cross_fit=4)
    fitted = table["split"].isin(["train", "val"]).to_numpy()
    # the final model saw train and val clips; their probabilities are not that model's
    in_sample = crossed_model.predict_proba(table.loc[fitted, list("xyz")].to_numpy())
    assert not np.allclose(crossed[fitted], in_sample)
    test = (table["split"] == "test").to_numpy()
    np.testing.assert_allclose(crossed[test],
                               crossed_model.predict_proba(table.loc[test, list("xyz")].to_numpy()))
    # a clip whose label is flipped: a forest that trained on it learns the flipped label
    # (its leaves fit it); the out-of-fold prediction, by forests that never saw it, does not
    flipped = table.copy()
    flipped.loc[flipped["track"] == "t00", "genre"] = "b"
    is_flipped = (flipped["track"] == "t00").to_numpy()
    forest, again = fit_predict(flipped, "random_forest", 0, labels, cross_fit=4)
    assert forest.predict_proba(flipped.loc[is_flipped, list("xyz")].to_numpy())[:, 1].min() > 0.5
    assert again[is_flipped, 1].max() < 0.3
    assert plain[~fitted].shape == crossed[~fitted].shape
