"""Image-stage cost per clip for each representation alone (transform + render + store).

    python -m bench.image_per_representation [--seconds 10] [--clips 8] [--repeats 5]

One process, numerical libraries on one thread. Prints milliseconds per clip (median over
repeats) and writes bench/results/image_per_representation.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.common import REPO, median, program, single_thread, table, write_results


def main() -> None:
    parser = argparse.ArgumentParser(prog=program(), description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    single_thread()
    from genre_ensemble.core.paths import PARAMS_FILE
    from genre_ensemble.corpus.synthetic import synthesize_clip
    from genre_ensemble.members.cnn.images import ImageJob, signal_images
    from genre_ensemble.members.cnn.imagestore import write_windows
    from genre_ensemble.members.cnn.kind import REPRESENTATIONS
    from genre_ensemble.members.registry import load_params

    params = load_params(REPO / PARAMS_FILE)
    sr = params.data.sample_rate
    signals = [
        synthesize_clip("jazz", seed, seconds=args.seconds, sr=sr) for seed in range(args.clips)
    ]
    rows, results = [], {}
    with tempfile.TemporaryDirectory() as folder:
        for names in [(name,) for name in REPRESENTATIONS] + [REPRESENTATIONS]:
            job = replace(ImageJob.from_params(params, names=names), clip_seconds=args.seconds)
            signal_images(signals[0], job)  # warm-up: numba compilation, caches
            runs = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                for number, signal in enumerate(signals):
                    for name, images in signal_images(signal, job).items():
                        write_windows(Path(folder) / f"{name}.{number}.npy", np.stack(images))
                runs.append((time.perf_counter() - start) / len(signals) * 1000)
            label = " + ".join(names)
            results[label] = {"ms_per_clip": median(runs), "runs_ms": runs}
            rows.append((label, f"{median(runs):.1f}"))
    sys.stdout.write(table(rows, ("representations", f"ms per {args.seconds:g} s clip")) + "\n")
    write_results(
        "image_per_representation",
        {"settings": vars(args), "results": results},
    )


if __name__ == "__main__":
    main()
