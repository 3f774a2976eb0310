"""Duplicate audit: fingerprints find copies (gain, OGG, offset) and nothing else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from genre_ensemble.corpus.audio import load_clip
from genre_ensemble.corpus.duplicates import (
    DUPLICATE_COLUMNS,
    duplicate_report,
    find_duplicates,
    keep_together,
)
from genre_ensemble.corpus.fingerprint import clip_fingerprint
from genre_ensemble.corpus.synthetic import synthesize_clip

SR = 22050
SECONDS = 6.0
# same-genre clips share drum patterns and instruments: the hard case for a false positive
CLIPS = [("rock", 1), ("rock", 2), ("rock", 3), ("disco", 1), ("disco", 2), ("jazz", 1),
         ("classical", 1), ("metal", 1)]


@pytest.fixture(scope="module")
def signals() -> dict[str, np.ndarray]:
    return {f"{genre}.{seed:05d}": synthesize_clip(genre, seed, seconds=SECONDS, sr=SR)
            for genre, seed in CLIPS}


@pytest.fixture(scope="module")
def fingerprints(signals) -> dict:
    return {name: clip_fingerprint(x, SR) for name, x in signals.items()}


def shifted(signal: np.ndarray, seconds: float) -> np.ndarray:
    """The same clip starting ``seconds`` later (or earlier when negative), same length."""
    n = int(round(abs(seconds) * SR))
    if seconds > 0:
        return np.r_[np.zeros(n, signal.dtype), signal[:-n]]
    return np.r_[signal[n:], np.zeros(n, signal.dtype)]


def via_ogg(signal: np.ndarray, folder: Path) -> np.ndarray:
    """Encode to OGG Vorbis and decode as the pipeline does."""
    path = folder / "copy.ogg"
    soundfile.write(str(path), signal, SR, format="OGG", subtype="VORBIS")
    return load_clip(path, sample_rate=SR, seconds=SECONDS)


TRANSFORMS = {
    "gain x0.3": lambda x, folder: 0.3 * x,
    "gain x2": lambda x, folder: x * min(2.0, 0.99 / np.abs(x).max()),
    "ogg": lambda x, folder: via_ogg(x, folder),
    "offset +1 s": lambda x, folder: shifted(x, 1.0),
    "offset -1 s": lambda x, folder: shifted(x, -1.0),
    "ogg, gain x0.3, offset +1 s": lambda x, folder: via_ogg(shifted(0.3 * x, 1.0), folder),
}


@pytest.mark.parametrize("transform", list(TRANSFORMS))
def test_a_transformed_copy_is_flagged_and_nothing_else(transform, signals, fingerprints,
                                                        tmp_path):
    original = "rock.00002"
    copy = TRANSFORMS[transform](signals[original], tmp_path)
    pairs = find_duplicates({**fingerprints, "zz.copy": clip_fingerprint(copy, SR)})
    assert list(pairs.columns) == list(DUPLICATE_COLUMNS)
    assert pairs[["track_a", "track_b"]].values.tolist() == [[original, "zz.copy"]]
    assert 0.35 <= pairs["similarity"].iloc[0] <= 1.0
    expected_offset = 1.0 if "+1 s" in transform else -1.0 if "-1 s" in transform else 0.0
    assert pairs["offset_seconds"].iloc[0] == pytest.approx(expected_offset, abs=0.03)


def test_distinct_clips_including_same_genre_are_not_flagged(fingerprints):
    assert find_duplicates(fingerprints).empty


def test_distinct_clips_score_far_below_a_copy(signals, fingerprints):
    loose = find_duplicates(fingerprints, threshold=0.0, min_votes=1)
    copy = find_duplicates({"a": fingerprints["rock.00001"],
                            "b": clip_fingerprint(0.5 * signals["rock.00001"], SR)},
                           threshold=0.0)
    assert copy["similarity"].iloc[0] >= 0.99  # a gain change leaves the bits alone
    assert np.max(loose["similarity"].to_numpy(), initial=0.0) < 0.2


def test_fingerprint_is_deterministic_and_order_free(signals, fingerprints):
    again = clip_fingerprint(signals["jazz.00001"], SR)
    np.testing.assert_array_equal(again.bits, fingerprints["jazz.00001"].bits)
    np.testing.assert_array_equal(again.valid, fingerprints["jazz.00001"].valid)
    with_copies = {**fingerprints, "copy": clip_fingerprint(shifted(signals["jazz.00001"], 1.0),
                                                            SR)}
    forward = find_duplicates(with_copies, threshold=0.0, min_votes=1)
    backward = find_duplicates(dict(reversed(list(with_copies.items()))), threshold=0.0,
                               min_votes=1)
    pd.testing.assert_frame_equal(forward, backward)


def test_padding_silence_is_not_a_match():
    """Two different clips with long silent tails share silence, not audio."""
    rng = np.random.default_rng(0)
    silence = np.zeros(int(4 * SR), np.float32)
    a = np.r_[0.1 * rng.standard_normal(SR).astype(np.float32), silence]
    b = np.r_[0.1 * rng.standard_normal(SR).astype(np.float32), silence]
    assert find_duplicates({"a": clip_fingerprint(a, SR), "b": clip_fingerprint(b, SR)}).empty


def test_report_and_keep_together_put_a_cross_split_copy_on_one_side(signals, fingerprints):
    copies = {"rock.00001": "zz.copy1", "disco.00002": "zz.copy2"}
    prints = dict(fingerprints)
    for original, copy in copies.items():
        prints[copy] = clip_fingerprint(shifted(0.3 * signals[original], -1.0), SR)
    pairs = find_duplicates(prints)
    split = pd.Series({name: "test" for name in prints}, name="split")
    split[["rock.00001", "rock.00002", "rock.00003", "jazz.00001"]] = "train"
    split[["zz.copy2", "disco.00001"]] = "val"
    manifest = pd.DataFrame({"track": split.index, "split": split.values})
    report = duplicate_report(pairs, manifest)
    by_pair = report.set_index(["track_a", "track_b"])
    assert by_pair.loc[("rock.00001", "zz.copy1"), ["split_a", "split_b"]].tolist() == [
        "train", "test"]
    assert report["cross_split"].all()
    together = keep_together(split, pairs)
    assert together["zz.copy1"] == "train"  # the test copy of a training clip joins train
    assert together["disco.00002"] == "val"  # val beats test
    changed = together[together != split].index.tolist()
    assert sorted(changed) == ["disco.00002", "zz.copy1"]


def test_keep_together_leaves_clips_outside_the_splits_alone():
    pairs = pd.DataFrame({"track_a": ["a", "b"], "track_b": ["b", "c"]})
    split = pd.Series({"a": "", "b": "test", "c": "val", "d": "train"})
    together = keep_together(split, pairs)
    assert together.to_dict() == {"a": "", "b": "val", "c": "val", "d": "train"}
