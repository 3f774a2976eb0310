"""How separable is the synthetic corpus, and through which representation?

Generates a corpus per difficulty into a temporary folder, extracts cheap summary features
grouped like the three CNN inputs, and reports 5-fold cross-validated accuracy of a simple
classifier per group and for all groups combined:

- stft   : MFCC mean/std, spectral centroid/flatness/roll-off, onset-strength and loudness stats
           (timbre, drums, distortion, compression);
- cqt    : mean and spread of dB energy in 1/3-octave bands from C1 to B8 (register);
- chroma : key-invariant chroma summaries (interval profile, sorted pitch-class profile,
           chord-change rate), since every clip is in a random key (harmony).

Example::

    python -m bench.synthetic_separability --difficulty 0 0.5 1 --clips 40

The corpus is :func:`genre_ensemble.corpus.synthetic.write_corpus`'s (GTZAN's ten genres).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
from joblib import Parallel, delayed
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bench.common import program
from genre_ensemble.core.labels import GTZAN_GENRES as GENRES
from genre_ensemble.core.labels import label_index
from genre_ensemble.corpus.synthetic import write_corpus

logger = logging.getLogger("bench.synthetic_separability")
GENRE_INDEX = label_index(GENRES)

GROUPS = ("stft", "cqt", "chroma")
HOP = 512


def stft_features(y: np.ndarray, sr: int) -> np.ndarray:
    """Timbre/rhythm summary, shape (49,)."""
    power = np.abs(librosa.stft(y, n_fft=2048, hop_length=HOP)) ** 2
    mel = librosa.feature.melspectrogram(S=power, sr=sr, n_mels=64)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=20)
    magnitude = np.sqrt(power)
    centroid = librosa.feature.spectral_centroid(S=magnitude, sr=sr)[0]
    flatness = librosa.feature.spectral_flatness(S=magnitude)[0]
    rolloff = librosa.feature.spectral_rolloff(S=magnitude, sr=sr)[0]
    onset = librosa.onset.onset_strength(S=librosa.power_to_db(mel), sr=sr)
    loudness = librosa.power_to_db(power.sum(axis=0) + 1e-10)
    return np.concatenate(
        [
            mfcc.mean(axis=1),
            mfcc.std(axis=1),
            [
                centroid.mean(),
                centroid.std(),
                np.log(flatness.mean() + 1e-10),
                rolloff.mean(),
                onset.mean(),
                onset.std(),
                onset.max() / (onset.mean() + 1e-9),
                loudness.std(),
                np.percentile(loudness, 90) - np.percentile(loudness, 10),
            ],
        ]
    )


def cqt_and_chroma(y: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Register summary, shape (64,), and key-invariant harmony summary, shape (29,)."""
    magnitude = np.abs(
        librosa.cqt(
            y, sr=sr, hop_length=HOP, fmin=librosa.note_to_hz("C1"), n_bins=96, bins_per_octave=12
        )
    )
    db = librosa.amplitude_to_db(magnitude, ref=np.max, top_db=80.0)
    bands = db.reshape(32, 3, -1).mean(axis=1)  # 1/3-octave (4-semitone) bands
    cqt = np.concatenate([bands.mean(axis=1), bands.std(axis=1)])

    chroma = librosa.feature.chroma_cqt(
        C=magnitude, fmin=librosa.note_to_hz("C1"), bins_per_octave=12
    )
    frames = chroma / (chroma.sum(axis=0, keepdims=True) + 1e-9)
    # Circular autocorrelation of each frame = interval content (tritones of 7th chords,
    # fifths without thirds of power chords, ...), independent of the key.
    spectrum = np.fft.rfft(frames, axis=0)
    intervals = np.fft.irfft(np.abs(spectrum) ** 2, n=12, axis=0).mean(axis=1)[1:7]
    profile = frames.mean(axis=1)
    fourier = np.abs(np.fft.rfft(profile))[1:7]
    flux = np.abs(np.diff(frames, axis=1)).sum(axis=0)
    harmony = np.concatenate(
        [
            intervals,
            np.sort(profile)[::-1],
            fourier,
            [
                flux.mean(),
                flux.std(),
                frames.max(axis=0).mean(),
                frames.max(axis=0).std(),
                (frames**2).sum(axis=0).mean(),
            ],
        ]
    )
    return cqt, harmony


def clip_features(path: Path) -> tuple[str, dict[str, np.ndarray]]:
    """Feature groups of one WAV file, labelled by its genre folder."""
    y, sr = sf.read(path, dtype="float32")
    cqt, chroma = cqt_and_chroma(y, sr)
    return path.parent.name, {"stft": stft_features(y, sr), "cqt": cqt, "chroma": chroma}


def make_classifier(kind: str, seed: int):
    """Standardised logistic regression ('logreg') or a random forest ('rf')."""
    if kind == "rf":
        return RandomForestClassifier(n_estimators=300, random_state=seed, n_jobs=1)
    return make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=3000))


def evaluate(difficulty: float, args: argparse.Namespace) -> dict[str, np.ndarray]:
    """Generate a corpus at ``difficulty``; return per-group recall of each genre, shape (10,)."""
    with tempfile.TemporaryDirectory(prefix="synthetic-bench-") as tmp:
        started = time.perf_counter()
        paths = write_corpus(
            Path(tmp),
            clips_per_genre=args.clips,
            seconds=args.seconds,
            sr=args.sr,
            seed=args.seed,
            difficulty=difficulty,
            n_jobs=args.jobs,
        )
        generated = time.perf_counter() - started
        rows = Parallel(n_jobs=args.jobs)(delayed(clip_features)(path) for path in paths)
    logger.info(
        "difficulty %.2f: generated %d clips in %.1f s, features in %.1f s",
        difficulty,
        len(paths),
        generated,
        time.perf_counter() - started - generated,
    )
    labels = np.array([GENRE_INDEX[genre] for genre, _ in rows])
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=args.seed)
    recalls = {}
    for group in (*GROUPS, "combined"):
        names = GROUPS if group == "combined" else (group,)
        features = np.array([np.concatenate([feats[name] for name in names]) for _, feats in rows])
        predicted = cross_val_predict(
            make_classifier(args.classifier, args.seed), features, labels, cv=folds
        )
        recalls[group] = np.array(
            [np.mean(predicted[labels == k] == k) for k in range(len(GENRES))]
        )
    return recalls


def print_tables(results: dict[float, dict[str, np.ndarray]], args: argparse.Namespace) -> None:
    """Accuracy per difficulty and group; with --per-genre, recall per genre too."""
    columns = (*GROUPS, "combined")
    print(
        f"5-fold {args.classifier} accuracy, {args.clips} clips/genre x {args.seconds:g} s "
        f"(chance 0.10)"
    )
    print(f"{'difficulty':>10} " + " ".join(f"{name:>9}" for name in columns))
    for difficulty, recalls in results.items():
        # Balanced classes, so accuracy is the mean per-genre recall.
        print(
            f"{difficulty:>10.2f} " + " ".join(f"{recalls[name].mean():>9.3f}" for name in columns)
        )
    if not args.per_genre:
        return
    for difficulty, recalls in results.items():
        print(f"\nper-genre recall at difficulty {difficulty:.2f}")
        print(f"{'genre':>10} " + " ".join(f"{name:>9}" for name in columns))
        for index, genre in enumerate(GENRES):
            print(f"{genre:>10} " + " ".join(f"{recalls[name][index]:>9.3f}" for name in columns))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=program(), description=__doc__.split("\n\n")[0])
    parser.add_argument("--difficulty", type=float, nargs="+", default=[0.0, 0.5, 1.0])
    parser.add_argument("--clips", type=int, default=40, help="clips per genre")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sr", type=int, default=22050)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--classifier", choices=("logreg", "rf"), default="logreg")
    parser.add_argument("--per-genre", action="store_true", help="also print per-genre recall")
    return parser.parse_args()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args()
    results = {difficulty: evaluate(difficulty, args) for difficulty in args.difficulty}
    print_tables(results, args)


if __name__ == "__main__":
    main()
