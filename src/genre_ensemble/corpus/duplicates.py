"""Find near-identical clips in a corpus: matching fingerprints, split bookkeeping.

GTZAN repeats itself (Sturm 2013 lists exact repetitions); a test clip that repeats a training
clip inflates accuracy. Every usable clip is fingerprinted
(:mod:`genre_ensemble.corpus.fingerprint`). Matching never compares every pair of clips:
sub-fingerprints that two clips share exactly vote, through a sorted index, for a (clip, clip,
offset) triple; only pairs with enough votes at one offset are verified by their bit error
rate (BER) over the overlapping frames. Similarity is ``1 - 2 * BER`` clipped at 0: about 0 for
unrelated audio (BER ~ 0.5), 1 for identical audio.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from functools import partial

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from genre_ensemble.core.params import Choices
from genre_ensemble.core.splits import SPLITS
from genre_ensemble.corpus.fingerprint import (
    DEFAULT_THRESHOLD,
    HOP_SECONDS,
    Fingerprint,
    bit_error_rate,
    clip_fingerprint,
)

logger = logging.getLogger(__name__)

DUPLICATE_COLUMNS = ("track_a", "track_b", "similarity", "offset_seconds", "overlap_seconds")
# params split.duplicates: report -> only list near-identical clips; together -> also move
# every group of them into one split (keep_together)
DUPLICATE_MODES: Choices[bool] = Choices("split.duplicates", {"report": False, "together": True})


def _postings(fingerprints: Sequence[Fingerprint]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hash, clip, frame) of every valid frame, sorted by hash, then clip, then frame."""
    hashes, clips, frames = [], [], []
    for index, fingerprint in enumerate(fingerprints):
        where = np.flatnonzero(fingerprint.valid)
        hashes.append(fingerprint.bits[where].astype(np.int64))
        clips.append(np.full(where.shape[0], index, dtype=np.int64))
        frames.append(where.astype(np.int64))
    hashes, clips, frames = (np.concatenate(a) if a else np.zeros(0, np.int64)
                             for a in (hashes, clips, frames))
    order = np.lexsort((frames, clips, hashes))
    return hashes[order], clips[order], frames[order]


def offset_votes(fingerprints: Sequence[Fingerprint], *, max_postings: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Count, for every pair of clips, the exactly shared sub-fingerprints at each offset.

    A sub-fingerprint held by more than ``max_postings`` frames of the corpus (silence-like,
    stationary sounds) says nothing about identity and is left out; this also bounds the work
    to ``n_frames * max_postings``.

    Returns
    -------
    clip_a, clip_b, offset, votes : np.ndarray, shape (n_triples,), int64
        ``clip_a < clip_b``; frame t of ``clip_a`` matched frame t + offset of ``clip_b``.
    """
    hashes, clips, frames = _postings(fingerprints)
    n = hashes.shape[0]
    starts = np.flatnonzero(np.r_[True, hashes[1:] != hashes[:-1]])
    sizes = np.diff(np.r_[starts, n])
    common = np.repeat(sizes > max_postings, sizes)
    keys = []
    longest = int(sizes[sizes <= max_postings].max(initial=1))
    for shift in range(1, longest):
        # sorted by hash then clip, so entry j + shift is in the same clip or a later one
        j = np.flatnonzero((hashes[:-shift] == hashes[shift:]) & ~common[:-shift]
                           & (clips[:-shift] != clips[shift:]))
        keys.append(_triple_key(clips[j], clips[j + shift], frames[j + shift] - frames[j],
                                len(fingerprints)))
    if not keys:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, empty
    triples, votes = np.unique(np.concatenate(keys), return_counts=True)
    clip_a, clip_b, offset = _split_key(triples, len(fingerprints))
    return clip_a, clip_b, offset, votes.astype(np.int64)


# Offsets are stored shifted into [0, 2 * _MAX_FRAMES): clips up to ~ 2**20 hops (6.7 h).
_MAX_FRAMES = 1 << 20


def _triple_key(a: np.ndarray, b: np.ndarray, offset: np.ndarray, n_clips: int) -> np.ndarray:
    return (a * n_clips + b) * (2 * _MAX_FRAMES) + (offset + _MAX_FRAMES)


def _split_key(key: np.ndarray, n_clips: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pair, shifted = np.divmod(key, 2 * _MAX_FRAMES)
    a, b = np.divmod(pair, n_clips)
    return a, b, shifted - _MAX_FRAMES


def best_offsets(clip_a: np.ndarray, clip_b: np.ndarray, offset: np.ndarray, votes: np.ndarray,
                 *, min_votes: int) -> pd.DataFrame:
    """For each pair of clips, the offset with the most votes (ties: the smallest offset).

    Returns
    -------
    pd.DataFrame
        Columns clip_a, clip_b, offset, votes: pairs with at least ``min_votes`` votes.
    """
    table = pd.DataFrame({"clip_a": clip_a, "clip_b": clip_b, "offset": offset, "votes": votes})
    table = table.sort_values(["clip_a", "clip_b", "votes", "offset"],
                              ascending=[True, True, False, True], kind="mergesort")
    best = table.drop_duplicates(["clip_a", "clip_b"], keep="first")
    return best[best["votes"] >= min_votes].reset_index(drop=True)


def verify(a: Fingerprint, b: Fingerprint, offset: int, *, search: int = 1
           ) -> tuple[float, int, int]:
    """Best similarity (1 - 2 BER, clipped at 0) within ``search`` hops of ``offset``.

    Returns
    -------
    similarity : float
    offset : int
        The offset (hops) that gave it.
    n_frames : int
        Frames compared at that offset.
    """
    best = (-1.0, offset, 0)
    for candidate in range(offset - search, offset + search + 1):
        ber, n_frames = bit_error_rate(a, b, candidate)
        similarity = max(0.0, 1.0 - 2.0 * ber)
        if similarity > best[0]:
            best = (similarity, candidate, n_frames)
    return best


def find_duplicates(fingerprints: Mapping[str, Fingerprint], *,
                    threshold: float = DEFAULT_THRESHOLD, min_overlap_seconds: float = 1.0,
                    min_votes: int = 2, max_postings: int = 32) -> pd.DataFrame:
    """Pairs of near-identical clips.

    Parameters
    ----------
    fingerprints : Mapping[str, Fingerprint]
        Track name to fingerprint; all with the same ``hop_seconds``.
    threshold : float
        Smallest similarity (1 - 2 BER, in [0, 1]) reported.
    min_overlap_seconds : float
        Shortest stretch of audible audio, in seconds, the two clips must share at the found
        offset (a shorter one gives too few bits for a trustworthy BER).
    min_votes : int
        Exactly shared sub-fingerprints at one offset that make a pair a candidate.
    max_postings : int
        Sub-fingerprints held by more frames than this are ignored (see :func:`offset_votes`).

    Returns
    -------
    pd.DataFrame
        Columns :data:`DUPLICATE_COLUMNS`: ``track_a < track_b`` (names), similarity rounded
        to 4 decimals, offset_seconds (audio at time t in track_a is at t + offset_seconds in
        track_b), overlap_seconds (audible audio compared). Sorted by similarity (highest
        first), then track_a, track_b.

    Raises
    ------
    ValueError
        If the fingerprints were made with different hops.
    """
    names = sorted(fingerprints)
    prints = [fingerprints[name] for name in names]
    hops = {round(p.hop_seconds, 9) for p in prints}
    if len(hops) > 1:
        raise ValueError(f"fingerprints with different hops {sorted(hops)}: fingerprint every "
                         "clip at the same sample rate")
    hop = prints[0].hop_seconds if prints else HOP_SECONDS
    candidates = best_offsets(*offset_votes(prints, max_postings=max_postings),
                              min_votes=min_votes)
    rows = []
    for clip_a, clip_b, offset in candidates[["clip_a", "clip_b", "offset"]].itertuples(
            index=False):
        similarity, found, n_frames = verify(prints[clip_a], prints[clip_b], int(offset))
        if similarity >= threshold and n_frames * hop >= min_overlap_seconds:
            rows.append((names[clip_a], names[clip_b], round(similarity, 4),
                         round(found * hop, 3), round(n_frames * hop, 2)))
    logger.info("%d clips: %d candidate pairs, %d near-identical (similarity >= %.2f)",
                len(names), len(candidates), len(rows), threshold)
    pairs = pd.DataFrame(rows, columns=list(DUPLICATE_COLUMNS))
    return pairs.sort_values(["similarity", "track_a", "track_b"], ascending=[False, True, True],
                             kind="mergesort").reset_index(drop=True)


def duplicate_report(pairs: pd.DataFrame, manifest: pd.DataFrame) -> pd.DataFrame:
    """``pairs`` with each track's split (and genre, when the manifest has one).

    Parameters
    ----------
    pairs : pd.DataFrame
        From :func:`find_duplicates`.
    manifest : pd.DataFrame
        Columns track and split (``""`` for unused clips), optionally genre.

    Returns
    -------
    pd.DataFrame
        ``pairs`` plus split_a, split_b, cross_split (both in a split, not the same one), and
        genre_a, genre_b when available.
    """
    report = pairs.copy()
    by_track = manifest.set_index("track")
    for side in ("a", "b"):
        report[f"split_{side}"] = report[f"track_{side}"].map(by_track["split"]).fillna("")
        if "genre" in by_track:
            report[f"genre_{side}"] = report[f"track_{side}"].map(by_track["genre"]).fillna("")
    report["cross_split"] = ((report["split_a"] != report["split_b"])
                             & (report["split_a"] != "") & (report["split_b"] != ""))
    return report


def duplicate_groups(pairs: pd.DataFrame) -> pd.Series:
    """Connected groups of duplicates: group number of every track in ``pairs``.

    Returns
    -------
    pd.Series
        Indexed by track (sorted), values 0..n_groups-1 in order of each group's first track.
    """
    tracks = np.unique(np.r_[pairs["track_a"].to_numpy(str), pairs["track_b"].to_numpy(str)])
    index = {track: i for i, track in enumerate(tracks)}
    a = pairs["track_a"].map(index).to_numpy(int)
    b = pairs["track_b"].map(index).to_numpy(int)
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(len(tracks), len(tracks)))
    _, labels = connected_components(graph, directed=False)
    return pd.Series(labels, index=pd.Index(tracks, name="track"), name="group")


def keep_together(split: pd.Series, pairs: pd.DataFrame, *,
                  priority: Sequence[str] = SPLITS) -> pd.Series:
    """Move clips so that every connected group of duplicates lies in one split.

    Rule: a group goes to the first split in ``priority`` that one of its members is in
    (default train, then val, then test), so no evaluation clip repeats a training clip and a
    test clip never moves into train's place unless its copy is in train. Members in no split
    (``""``: unused or unusable) stay where they are and do not vote.

    Parameters
    ----------
    split : pd.Series
        Split of every clip, indexed by track name.
    pairs : pd.DataFrame
        From :func:`find_duplicates` (track_a, track_b).

    Returns
    -------
    pd.Series
        A copy of ``split`` with the moved clips' new split.
    """
    result = split.copy()
    if pairs.empty:
        return result
    groups = duplicate_groups(pairs)
    groups = groups[groups.index.isin(split.index)]
    current = split.reindex(groups.index)
    rank = {name: i for i, name in enumerate(priority)}
    for _, members in current[current.isin(list(priority))].groupby(groups, sort=True):
        target = min(members, key=rank.__getitem__)
        moved = members.index[members != target]
        if len(moved):
            logger.info("duplicates kept together in %s: %s", target, ", ".join(moved))
            result.loc[moved] = target
    return result


def _file_fingerprint(item: tuple[str, str], *, sample_rate: int, seconds: float | None
                      ) -> Fingerprint:
    from genre_ensemble.corpus.audio import load_clip

    return clip_fingerprint(load_clip(item[1], sample_rate=sample_rate, seconds=seconds),
                            sample_rate)


def fingerprint_files(paths: Mapping[str, str], *, sample_rate: int, seconds: float | None,
                      n_jobs: int = 1, backend: str = "loky") -> dict[str, Fingerprint]:
    """Fingerprints of audio files, each decoded as the pipeline sees it.

    Parameters
    ----------
    paths : Mapping[str, str]
        Track name to file path (usable clips: decoding errors propagate).
    sample_rate : int
        Hz; every clip is resampled to it, so all hops agree.
    seconds : float or None
        Clip length the pipeline pads or trims to (None: as decoded).
    n_jobs, backend : int, str
        Workers and joblib backend (:func:`genre_ensemble.core.parallel.parallel_map`).
    """
    from genre_ensemble.core.parallel import parallel_map

    worker = partial(_file_fingerprint, sample_rate=sample_rate, seconds=seconds)
    items = list(paths.items())
    results = parallel_map(worker, items, n_jobs=n_jobs, backend=backend, desc="fingerprints")
    return {track: fingerprint for (track, _), fingerprint in zip(items, results, strict=True)}


def audit_manifest(manifest: pd.DataFrame, *, sample_rate: int, seconds: float,
                   threshold: float, together: bool, n_jobs: int = 1, backend: str = "loky"
                   ) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Find near-identical usable clips of a split manifest; optionally keep each group together.

    Parameters
    ----------
    manifest : pd.DataFrame
        Columns track, genre, path, status, split
        (:func:`genre_ensemble.corpus.splitting.split_manifest`).
    threshold : float
        Similarity (0..1) from which a pair counts as a duplicate.
    together : bool
        Move every group of duplicates into one split (:func:`keep_together`).

    Returns
    -------
    manifest : pd.DataFrame
        A copy, with the split of moved clips changed.
    report : pd.DataFrame
        :func:`duplicate_report` of the pairs, with each clip's final split.
    moved : int
        Clips whose split changed.
    """
    usable = manifest[manifest["status"] == "ok"]
    fingerprints = fingerprint_files(dict(zip(usable["track"], usable["path"], strict=True)),
                                     sample_rate=sample_rate, seconds=seconds,
                                     n_jobs=n_jobs, backend=backend)
    pairs = find_duplicates(fingerprints, threshold=threshold)
    split = manifest.set_index("track")["split"]
    if together:
        split = keep_together(split, pairs)
    result = manifest.assign(split=manifest["track"].map(split))
    moved = int((result["split"] != manifest["split"]).sum())
    return result, duplicate_report(pairs, result), moved


def duplicate_summary(report: pd.DataFrame, moved: int) -> dict[str, int]:
    """The duplicate counts of ``metrics/data.json``: pairs, pairs across splits, clips moved."""
    return {
        "duplicate_pairs": int(len(report)),
        "cross_split_duplicates": int(report["cross_split"].sum()),
        "duplicates_moved": moved,
    }
