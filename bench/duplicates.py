"""Duplicate audit: detection rate per transformation, false positives, cost.

    python -m bench.duplicates [--clips-per-genre 15] [--timing-clips 1000]
                               [--sample ../shared/gtzan-sample]

Corpora: a synthetic one (10 s clips, params.yaml's corpus seed and difficulty) and, when the
folder exists, the real GTZAN sample (``excerpts``: 401 clips of 2-3 s; ``full``: 15 clips of
30 s). For each corpus:

- distinct pairs: every clip against every other (``find_duplicates`` at the default
  threshold). A flagged pair whose waveforms correlate (normalised cross-correlation >= 0.9
  at some lag) is the same recording, a real repetition, not a false positive;
- copies: for each transformation, a copy of every clip joins the corpus; detected = the pair
  (clip, its copy) is flagged. A +-1 s offset leaves a 2 s excerpt 0.6 s of shared frames,
  less than ``min_overlap_seconds``: rates are also given over the clips where the overlap
  is long enough ("eligible").

Cost: fingerprinting 30 s synthetic clips (one thread) and matching the fingerprints of
``--timing-clips`` of them (the corpus is generated once into .cache/bench/duplicates); the
distinct pairs of that corpus count as false-positive trials too.

Matching is :func:`genre_ensemble.corpus.duplicates.find_duplicates` on the fingerprints of
:func:`genre_ensemble.corpus.fingerprint.clip_fingerprint`.

Writes bench/results/duplicates.json.
"""

from __future__ import annotations

import argparse
import io
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import REPO, median, program, single_thread, table, write_results

CACHE = REPO / ".cache" / "bench" / "duplicates"
SAME_AUDIO_CORRELATION = 0.9  # waveform correlation that makes two clips one recording


def transformations(sr: int) -> dict[str, Callable]:
    """Name -> function(signal) making a near-identical copy."""
    import numpy as np
    import soundfile

    def gain(factor: float) -> Callable:
        # x2 without clipping: never more than brings the peak to 0.99
        return lambda x: x * min(factor, 0.99 / float(np.max(np.abs(x))))

    def ogg(x):
        buffer = io.BytesIO()
        soundfile.write(buffer, x, sr, format="OGG", subtype="VORBIS")
        buffer.seek(0)
        y, _ = soundfile.read(buffer, dtype="float32")
        return np.pad(y, (0, max(0, x.shape[0] - y.shape[0])))[: x.shape[0]]

    def shift(seconds: float) -> Callable:
        # same length as the original: pad at one end, trim the other
        n = int(round(abs(seconds) * sr))
        if seconds > 0:
            return lambda x: np.r_[np.zeros(n, x.dtype), x[:-n]]
        return lambda x: np.r_[x[n:], np.zeros(n, x.dtype)]

    return {
        "gain x0.3": gain(0.3),
        "gain x2": gain(2.0),
        "ogg vorbis": ogg,
        "offset +1 s": shift(1.0),
        "offset -1 s": shift(-1.0),
        "ogg + x0.3 + 1 s": lambda x: ogg(shift(1.0)(0.3 * x)),
        "ogg + x2 - 1 s": lambda x: ogg(gain(2.0)(shift(-1.0)(x))),
    }


OFFSETS = {"offset +1 s": 1.0, "offset -1 s": 1.0, "ogg + x0.3 + 1 s": 1.0, "ogg + x2 - 1 s": 1.0}


def load_folder(folder: Path, sr: int) -> dict:
    from genre_ensemble.corpus.audio import load_clip

    return {p.stem: load_clip(p, sample_rate=sr, seconds=None)
            for p in sorted(folder.rglob("*.wav"))}


def same_audio(x, y) -> float:
    """Largest normalised cross-correlation of two waveforms over all lags."""
    import numpy as np
    from scipy.signal import correlate

    energy = float(np.sqrt(np.sum(x.astype(np.float64) ** 2) * np.sum(y.astype(np.float64) ** 2)))
    return float(np.max(np.abs(correlate(x, y, method="fft")))) / max(energy, 1e-12)


def audit_distinct(signals: dict, fingerprints: dict, settings: dict) -> dict:
    from genre_ensemble.corpus.duplicates import find_duplicates

    n = len(signals)
    flagged = find_duplicates(fingerprints, **settings)
    repeats, false = [], []
    for row in flagged.itertuples(index=False):
        correlation = same_audio(signals[row.track_a], signals[row.track_b])
        entry = {"track_a": row.track_a, "track_b": row.track_b,
                 "similarity": row.similarity, "offset_seconds": row.offset_seconds,
                 "waveform_correlation": round(correlation, 3)}
        (repeats if correlation >= SAME_AUDIO_CORRELATION else false).append(entry)
    # the nearest distinct pair at any similarity, for the margin below the threshold
    loose = find_duplicates(fingerprints, **{**settings, "threshold": 0.0, "min_votes": 1})
    known = {(r["track_a"], r["track_b"]) for r in repeats}
    loose = loose[[(a, b) not in known for a, b in zip(loose.track_a, loose.track_b,
                                                           strict=True)]]
    pairs = n * (n - 1) // 2 - len(repeats)
    return {
        "clips": n,
        "distinct_pairs": pairs,
        "repetitions_found": repeats,
        "false_positives": len(false),
        "false_positive_pairs": false,
        "false_positive_rate": len(false) / pairs if pairs else None,
        "closest_distinct": loose.head(1).to_dict("records")[0] if len(loose) else None,
    }


def audit_copies(signals: dict, fingerprints: dict, sr: int, settings: dict,
                 repeats: set) -> dict:
    import numpy as np

    from genre_ensemble.corpus.duplicates import find_duplicates
    from genre_ensemble.corpus.fingerprint import FRAME_SECONDS, clip_fingerprint

    results = {}
    for name, transform in transformations(sr).items():
        copies = {f"{k}~copy": clip_fingerprint(transform(x), sr) for k, x in signals.items()}
        flagged = find_duplicates({**fingerprints, **copies}, **settings)
        found, false = {}, 0
        for row in flagged.itertuples(index=False):
            a, b = row.track_a.removesuffix("~copy"), row.track_b.removesuffix("~copy")
            if a == b:
                found[a] = row.similarity
            elif (min(a, b), max(a, b)) not in repeats and "~copy" in row.track_a + row.track_b:
                false += 1
        needed = settings["min_overlap_seconds"] + OFFSETS.get(name, 0.0) + FRAME_SECONDS
        eligible = [k for k, x in signals.items() if x.shape[0] / sr >= needed]
        similarity = np.array(list(found.values())) if found else np.zeros(1)
        results[name] = {
            "copies": len(signals),
            "detected": len(found),
            "rate": len(found) / len(signals),
            "eligible": len(eligible),
            "detected_eligible": sum(k in found for k in eligible),
            "rate_eligible": sum(k in found for k in eligible) / max(1, len(eligible)),
            "similarity_min": float(similarity.min()),
            "similarity_p05": round(float(np.percentile(similarity, 5)), 4),
            "similarity_median": round(float(np.median(similarity)), 4),
            "false_positives": false,
        }
    return results


def timing(count: int, sr: int, settings: dict, log) -> dict:
    from genre_ensemble.core.labels import GTZAN_GENRES as GENRES
    from genre_ensemble.core.paths import PARAMS_FILE
    from genre_ensemble.corpus.duplicates import find_duplicates
    from genre_ensemble.corpus.fingerprint import clip_fingerprint
    from genre_ensemble.corpus.synthetic import write_corpus
    from genre_ensemble.members.registry import load_params

    corpus = load_params(REPO / PARAMS_FILE).synthetic
    per_genre = -(-count // len(GENRES))
    folder = CACHE / f"synthetic-30s-{per_genre}"
    if not (folder / GENRES[-1] / f"{GENRES[-1]}.{per_genre - 1:05d}.wav").is_file():
        log(f"writing {per_genre * len(GENRES)} synthetic 30 s clips to {folder} (once)")
        write_corpus(folder, clips_per_genre=per_genre, seconds=30.0, sr=sr,
                     seed=corpus.seed, difficulty=corpus.difficulty, n_jobs=2)
    signals = load_folder(folder, sr)
    names = sorted(signals)[:count]
    fingerprints, seconds = {}, []
    for name in names:
        started = time.perf_counter()
        fingerprints[name] = clip_fingerprint(signals[name], sr)
        seconds.append(time.perf_counter() - started)
    started = time.perf_counter()
    flagged = find_duplicates(fingerprints, **settings)
    matching = time.perf_counter() - started
    pairs = count * (count - 1) // 2
    return {
        "clips": count,
        "clip_seconds": 30.0,
        "fingerprint_ms_per_clip_median": round(1000 * median(seconds), 2),
        "fingerprint_seconds_total": round(sum(seconds), 2),
        "matching_seconds": round(matching, 2),
        "distinct_pairs": pairs,
        "false_positives": len(flagged),
        "false_positive_rate": len(flagged) / pairs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog=program(), description=__doc__.splitlines()[0])
    parser.add_argument("--clips-per-genre", type=int, default=15)
    parser.add_argument("--timing-clips", type=int, default=1000)
    parser.add_argument("--sample", type=Path, default=REPO.parent / "shared" / "gtzan-sample")
    args = parser.parse_args()
    single_thread()
    logging.basicConfig(level=logging.WARNING)
    from genre_ensemble.core.paths import PARAMS_FILE
    from genre_ensemble.corpus import fingerprint as fp
    from genre_ensemble.corpus.synthetic import write_corpus
    from genre_ensemble.members.registry import load_params

    params = load_params(REPO / PARAMS_FILE)
    sr = params.data.sample_rate
    settings = {"threshold": fp.DEFAULT_THRESHOLD, "min_overlap_seconds": 1.0, "min_votes": 2,
                "max_postings": 32}
    corpora = {}
    with tempfile.TemporaryDirectory() as folder:
        write_corpus(Path(folder), clips_per_genre=args.clips_per_genre, seconds=10.0, sr=sr,
                     seed=params.synthetic.seed, difficulty=params.synthetic.difficulty)
        corpora["synthetic 10 s"] = load_folder(Path(folder), sr)
    for part in ("excerpts", "full"):
        if (args.sample / part).is_dir():
            corpora[f"gtzan {part}"] = load_folder(args.sample / part, sr)
    results, rows = {}, []
    for name, signals in corpora.items():
        print(f"{name}: {len(signals)} clips", flush=True)
        fingerprints = {k: fp.clip_fingerprint(x, sr) for k, x in signals.items()}
        distinct = audit_distinct(signals, fingerprints, settings)
        repeats = {(r["track_a"], r["track_b"]) for r in distinct["repetitions_found"]}
        distinct["copies"] = audit_copies(signals, fingerprints, sr, settings, repeats)
        results[name] = distinct
        for transform, numbers in distinct["copies"].items():
            rows.append([name, transform, f"{numbers['detected']}/{numbers['copies']}",
                         f"{numbers['detected_eligible']}/{numbers['eligible']}",
                         numbers["similarity_min"], numbers["similarity_median"],
                         numbers["false_positives"]])
        rows.append([name, "distinct pairs", "", "", "", "",
                     f"{distinct['false_positives']}/{distinct['distinct_pairs']}"])
    print(table(rows, ["corpus", "copy", "detected", "eligible", "sim min", "sim median",
                       "false pos"]))
    print(f"timing: {args.timing_clips} synthetic 30 s clips", flush=True)
    cost = timing(args.timing_clips, sr, settings, print)
    print(cost)
    write_results("duplicates", {
        "settings": {**settings, "frame_seconds": fp.FRAME_SECONDS,
                     "hop_seconds": fp.HOP_SECONDS, "floor_db": fp.FLOOR_DB,
                     "quiet_db": fp.QUIET_DB, "sample_rate": sr,
                     "same_audio_correlation": SAME_AUDIO_CORRELATION},
        "results": results,
        "timing": cost,
    })


if __name__ == "__main__":
    main()
