"""Which musicnn checkpoint and pooled layers for the musicnn member, chosen on validation.

    python -m bench.musicnn_choice --source real        # ../shared/gtzan-sample/excerpts
    python -m bench.musicnn_choice --source synthetic   # the corpus generator, 40 x 10 s a genre

Every clip is embedded once per checkpoint (MSD_musicnn, MTT_musicnn: each layer's outputs
averaged over the clip's 3 s patches, as the member does). Candidates are (checkpoint, layer
set) pairs; each gets the member's classifier
(:func:`genre_ensemble.members.classifier.make_classifier` ``('logistic')`` on standardised
embeddings). Protocol: stratified ``--folds``-fold cross-validation; in each fold
the non-test clips are split 70/30 (stratified) into training and validation, every candidate
is fitted on training and scored on validation, and **the candidate with the best mean
validation accuracy over the folds is the choice**. Test accuracies are reported for every
candidate, and the choice is compared, on the same test clips, with the member's current params
(``pretrained.musicnn``: MSD, mean + max + penultimate) and with the other checkpoint's best
candidate (by validation): exact McNemar and a paired bootstrap interval
(:mod:`genre_ensemble.experiments.stats`). The test folds choose nothing.

Writes ``bench/results/musicnn_choice_<source>.json``.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from bench.common import REPO, program, table, write_results
from genre_ensemble.core.labels import GTZAN_GENRES as GENRES
from genre_ensemble.corpus.audio import load_clip
from genre_ensemble.experiments.stats import mcnemar_exact, paired_bootstrap_difference
from genre_ensemble.members.classifier import make_classifier
from genre_ensemble.members.pretrained.networks import MODELS, MUSICNN
from genre_ensemble.members.pretrained.weights import weights_dir

logger = logging.getLogger("bench.musicnn_choice")
# The checkpoints of the musicnn architecture (MSD_musicnn, MTT_musicnn)
MUSICNN_MODELS = tuple(name for name, architecture in MODELS.items() if architecture is MUSICNN)
SAMPLE_RATE = 22050
LAYER_SETS: dict[str, tuple[str, ...]] = {
    "mean_pool": ("mean_pool",),
    "max_pool": ("max_pool",),
    "penultimate": ("penultimate",),
    "taggram": ("taggram",),
    "mean+max+penultimate": ("mean_pool", "max_pool", "penultimate"),
}
CURRENT = ("MSD_musicnn", "mean+max+penultimate")  # params.yaml's pretrained.musicnn today


def real_clips(folder: Path) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """Every ``<genre>/<file>`` audio clip under ``folder`` (whole length), its genre, its name."""
    signals, genres, names = [], [], []
    for genre in GENRES:
        for path in sorted((folder / genre).glob("*.wav")):
            signals.append(load_clip(path, sample_rate=SAMPLE_RATE, seconds=None))
            genres.append(genre)
            names.append(path.stem)
    return signals, np.array(genres), names


def synthetic_clips(per_genre: int, seconds: float
                    ) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """``per_genre`` clips of every genre from the corpus generator, with names."""
    from genre_ensemble.corpus.synthetic import synthesize_clip

    signals, genres, names = [], [], []
    for genre in GENRES:
        for number in range(per_genre):
            signals.append(synthesize_clip(genre, number, seconds=seconds, sr=SAMPLE_RATE))
            genres.append(genre)
            names.append(f"{genre}.{number:05d}")
    return signals, np.array(genres), names


def layer_means(signals: list[np.ndarray], model: str) -> dict[str, np.ndarray]:
    """Each layer's patch outputs averaged per clip: ``layer -> (n_clips, size)``."""
    from genre_ensemble.members.pretrained.musicnn import embed

    rows: dict[str, list[np.ndarray]] = {}
    for signal in signals:
        for layer, outputs in embed(signal, SAMPLE_RATE, model=model,
                                    weights_dir=weights_dir(REPO)).items():
            rows.setdefault(layer, []).append(outputs.mean(axis=0))
    return {layer: np.stack(values) for layer, values in rows.items()}


def accuracy(model, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    correct = model.predict(x) == y
    return float(correct.mean()), correct


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog=program(), description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=("real", "synthetic"), default="real")
    parser.add_argument("--real-dir", type=Path,
                        default=REPO.parent / "shared" / "gtzan-sample" / "excerpts")
    parser.add_argument("--per-genre", type=int, default=40, help="synthetic clips per genre")
    parser.add_argument("--seconds", type=float, default=10.0, help="synthetic clip length")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    signals, genres, names = (real_clips(args.real_dir) if args.source == "real"
                              else synthetic_clips(args.per_genre, args.seconds))
    labels = np.array([GENRES.index(genre) for genre in genres])
    logger.info("%d clips, %.1f s on average", len(signals),
                np.mean([len(s) for s in signals]) / SAMPLE_RATE)
    embeddings, seconds_per_clip = {}, {}
    for model in MUSICNN_MODELS:
        started = time.process_time()
        embeddings[model] = layer_means(signals, model)
        seconds_per_clip[model] = (time.process_time() - started) / len(signals)
        logger.info("%s: %.3f s CPU a clip", model, seconds_per_clip[model])
    candidates = [(model, layers) for model in MUSICNN_MODELS for layers in LAYER_SETS]

    def inputs(candidate: tuple[str, str]) -> np.ndarray:
        model, layers = candidate
        return np.concatenate([embeddings[model][layer] for layer in LAYER_SETS[layers]], axis=1)

    validation = {c: [] for c in candidates}
    test = {c: [] for c in candidates}
    correct = {c: np.zeros(len(labels), dtype=bool) for c in candidates}
    folds = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
    for fold, (rest, held_out) in enumerate(folds.split(labels, labels)):
        train, val = train_test_split(rest, test_size=0.3, stratify=labels[rest],
                                      random_state=args.seed)
        for candidate in candidates:
            x = inputs(candidate)
            classifier = make_classifier("logistic", args.seed).fit(x[train], labels[train])
            validation[candidate].append(accuracy(classifier, x[val], labels[val])[0])
            score, hits = accuracy(classifier, x[held_out], labels[held_out])
            test[candidate].append(score)
            correct[candidate][held_out] = hits
        logger.info("fold %d done", fold)
    mean_validation = {c: float(np.mean(v)) for c, v in validation.items()}
    chosen = max(candidates, key=lambda c: (mean_validation[c], c == CURRENT))
    # the best candidate of the other checkpoint, also by validation
    other = max((cand for cand in candidates if cand[0] != chosen[0]),
                key=lambda cand: mean_validation[cand])

    def paired(baseline: tuple[str, str], variant: tuple[str, str]) -> dict:
        """``variant`` - ``baseline`` on the same test clips."""
        pairs = pd.DataFrame({"track": names, "baseline": correct[baseline],
                              "variant": correct[variant]})
        b, c, pvalue = mcnemar_exact(correct[baseline], correct[variant])
        interval = paired_bootstrap_difference(pairs)
        return {"baseline": list(baseline), "variant": list(variant),
                "difference": interval.value, "low": interval.low, "high": interval.high,
                "b": b, "c": c, "pvalue": pvalue}

    comparisons = [paired(CURRENT, chosen), paired(other, chosen)]
    rows = [(model, layers, f"{mean_validation[(model, layers)]:.3f}",
             f"{np.mean(test[(model, layers)]):.3f}",
             "chosen" if (model, layers) == chosen else
             ("current" if (model, layers) == CURRENT else ""))
            for model, layers in sorted(candidates, key=lambda c: -mean_validation[c])]
    print(table(rows, ["checkpoint", "layers", "validation acc", "test acc", ""]))
    print(f"\nchosen on validation: {chosen[0]}, {chosen[1]} ({len(labels)} test clips)")
    for item in comparisons:
        print(f"  against {', '.join(item['baseline'])}: {item['difference'] * 100:+.1f} points "
              f"[{item['low'] * 100:+.1f}, {item['high'] * 100:+.1f}], McNemar b={item['b']} "
              f"c={item['c']} p={item['pvalue']:.3g}")
    path = write_results(f"musicnn_choice_{args.source}", {
        "settings": {**{k: str(v) for k, v in vars(args).items()}, "clips": len(labels),
                     "mean_seconds": float(np.mean([len(s) for s in signals]) / SAMPLE_RATE)},
        "cpu_seconds_per_clip": seconds_per_clip,
        "candidates": [{"checkpoint": m, "layers": layers,
                        "validation_accuracy_per_fold": validation[(m, layers)],
                        "test_accuracy_per_fold": test[(m, layers)]}
                       for m, layers in candidates],
        "chosen": {"checkpoint": chosen[0], "layers": chosen[1]},
        "chosen_against": comparisons,
    })
    print(f"results: {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
