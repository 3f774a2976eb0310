"""What the real-music preset's members cost per 30 s clip, on real audio.

    python -m bench.member_cost --clips ../shared/gtzan-sample/mini --files 10

For ``--files`` clips of the folder (30 s each, decoded and cut as the pipeline cuts them, at
``data.clip_seconds: 30``): the wall and CPU seconds per clip of each pretrained member's
embedding (``pretrained.<name>`` of params.yaml, the network built once, before the clock
starts) and of the descriptors member's features, the median over the clips. Both are what
the ``embed@<name>`` and ``features`` stages spend per clip; fitting the classifiers on them
takes seconds for a whole corpus. The CNN members' images and predictions are
``bench/predict_latency.py``'s figures. Writes ``bench/results/member_cost.json``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.common import median, program, write_results
from genre_ensemble.corpus.audio import load_clip
from genre_ensemble.members.descriptors.descriptors import window_features
from genre_ensemble.members.pretrained.embeddings import embed_clip
from genre_ensemble.members.pretrained.weights import weights_dir
from genre_ensemble.members.registry import load_params

AUDIO = (".wav", ".au", ".flac", ".mp3")


def _timed(work) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(prog=program(), description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, required=True, help="a folder of real 30 s clips")
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args()
    params = load_params(args.params)
    paths = sorted(p for p in args.clips.rglob("*") if p.suffix.lower() in AUDIO)
    paths = paths[:: max(1, len(paths) // args.files)][: args.files]  # spread over the labels
    signals = [load_clip(p, sample_rate=params.data.sample_rate, seconds=30.0) for p in paths]
    folder = weights_dir()
    members = {}
    for member in params.of_kind("pretrained"):
        name, settings = member.name, member.settings
        embed_clip(signals[0], sample_rate=params.data.sample_rate, settings=settings,
                   weights_dir=folder)  # builds the network: not part of a clip's cost
        runs = [_timed(lambda s=s, settings=settings: embed_clip(
                    s, sample_rate=params.data.sample_rate,
                    settings=settings, weights_dir=folder))
                for s in signals]
        members[name] = {"model": settings.model, "wall_s": median(r[0] for r in runs),
                         "cpu_s": median(r[1] for r in runs)}
    runs = [_timed(lambda s=s: window_features(s, params.data.sample_rate,
                                               windows=params.windows,
                                               descriptors=params.features.descriptors))
            for s in signals]
    members["features"] = {"wall_s": median(r[0] for r in runs),
                           "cpu_s": median(r[1] for r in runs)}
    write_results("member_cost", {"clips": [str(p) for p in paths], "per_clip": members})
    for name, cost in members.items():
        print(f"{name:10s} {cost.get('model', ''):12s} wall {cost['wall_s']:.2f} s  "
              f"cpu {cost['cpu_s']:.2f} s per 30 s clip")


if __name__ == "__main__":
    main()
