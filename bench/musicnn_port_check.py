"""The Keras 3 musicnn port against musicnn's own extractor, and the port's cost per clip.

Two environments are involved. This module runs in the project's one (the port,
:mod:`genre_ensemble.members.pretrained.musicnn`); musicnn's original extractor needs the legacy
stack (``tf.compat.v1.layers``), which the project does not install, so the module runs itself
in a scratch environment with ``--original``. Make that
environment once (it reuses the project's packages through a .pth file and adds only tf-keras
and musicnn, installed without its numpy<1.17 pin)::

    python3.11 -m venv /work/scratch/legacy-venv
    echo "$PWD/.venv/lib/python3.11/site-packages" \\
        > /work/scratch/legacy-venv/lib/python3.11/site-packages/project.pth
    /work/scratch/legacy-venv/bin/pip install --no-deps tf-keras==2.21.0 \\
        .cache/musicnn/musicnn-0.1.0-py3-none-any.whl

then, with the project's environment active (``make musicnn`` first), from the repository root::

    python -m bench.musicnn_port_check --legacy-python /work/scratch/legacy-venv/bin/python \\
        --gtzan /path/to/gtzan/genres

The original runs as ``python -m bench.musicnn_port_check --original`` in the legacy
environment (the repository root its working folder, ``src`` on ``PYTHONPATH``), with
``TF_USE_LEGACY_KERAS=1`` and two patches of its source, in memory:
its float16 cast before the log compression becomes float32 (the port's choice: float16
overflows to infinity), and its loop over patches 2.. keeps each patch's own ``penultimate``
(musicnn 0.1.0 unpacks it as ``backend_`` but stores ``penultimate_``, so every patch after
the first repeats the first one's; likewise cnn1..cnn3). The unpatched versions also run, on
the first clip, to record both faults.
Clips: 3 real ones (the first file of each of the first 3 genre folders under ``--gtzan``, if
given) and 2 synthetic ones (a synthetic-corpus clip at 22.05 kHz, and a full-scale chord with
noise at 44.1 kHz so that resampling is compared too). Compared per clip and model: every
per-patch output (mean_pool, max_pool, penultimate, taggram) and the 1706-value clip
embedding, as the largest absolute difference and that divided by the largest absolute value.

Cost: one 30 s clip, one core (numerical libraries and TensorFlow pinned to one thread),
after the first call (which traces the graph, timed apart): log-mel patches and network
(:func:`genre_ensemble.members.pretrained.musicnn.embed_patches`), median of ``--repeats``
runs, wall and CPU seconds; plus the one-off cost of reading the checkpoint and building the
network.
Without ``--legacy-python`` only the cost is measured; ``--no-cost`` skips it.
Results: ``bench/results/musicnn_port_check.json`` and ``bench/results/musicnn_cost.json``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import REPO, program, single_thread, write_results

MODELS = ("MSD_musicnn", "MTT_musicnn")
OUTPUTS = ("mean_pool", "max_pool", "penultimate", "taggram")
CLIP_OUTPUTS = ("mean_pool", "max_pool", "penultimate")


# ---------------------------------------------------------------------------------------------
# The original (legacy environment only)


def _patch(module, name: str, old: str, new: str):
    """Redefine ``module.name`` from its source with ``old`` replaced; return the original."""
    original = getattr(module, name)
    source = inspect.getsource(original)
    if old not in source:
        raise RuntimeError(f"{old!r} not in musicnn's {name}: a different musicnn version?")
    exec(source.replace(old, new), module.__dict__)  # the module's functions see the new one
    return original


def run_original(clips: list[str], out: Path) -> None:
    """musicnn's extractor on each clip and model, saved to an .npz (legacy environment)."""
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    from musicnn import extractor

    float16_batch_data = _patch(extractor, "batch_data", "astype(np.float16)",
                                "astype(np.float32)")
    buggy_extractor = extractor.extractor
    # musicnn 0.1.0's extractor unpacks patches 2.. into `midend1_.. backend_` but concatenates
    # `cnn1_.. penultimate_`, i.e. patch 1's values again: fixed so that every patch is compared
    _patch(extractor, "extractor", "midend1_, midend2_, midend3_, mean_pool_, max_pool_, backend_",
           "cnn1_, cnn2_, cnn3_, mean_pool_, max_pool_, penultimate_")

    arrays: dict[str, np.ndarray] = {}
    n_frames = 187
    for index, clip in enumerate(clips):
        _, spectrogram16 = float16_batch_data(clip, n_frames, n_frames)
        arrays[f"{index}/float16_nonfinite"] = np.array(np.count_nonzero(
            ~np.isfinite(spectrogram16)))
        arrays[f"{index}/float16_values"] = np.array(spectrogram16.size)
        for model in MODELS:
            taggram, _, features = extractor.extractor(clip, model=model, input_length=3,
                                                       extract_features=True)
            arrays[f"{index}/{model}/taggram"] = np.asarray(taggram, dtype=np.float32)
            for name in ("mean_pool", "max_pool", "penultimate"):
                arrays[f"{index}/{model}/{name}"] = np.asarray(features[name], dtype=np.float32)
    # the unfixed loop (float32 front end) on the first clip: penultimate repeats patch 1?
    _, _, features = buggy_extractor(clips[0], model="MSD_musicnn", extract_features=True)
    rows = np.asarray(features["penultimate"])
    arrays["unfixed_penultimate_rows_equal_first"] = np.array(bool(np.all(rows == rows[0])))
    # the unpatched float16 front end on the first clip: finite embeddings or not?
    extractor.batch_data = float16_batch_data
    _, _, features = extractor.extractor(clips[0], model="MSD_musicnn", extract_features=True)
    arrays["float16_clip0_penultimate_finite"] = np.array(
        bool(np.isfinite(features["penultimate"]).all()))
    np.savez(out, **arrays)


# ---------------------------------------------------------------------------------------------
# The port (project environment)


def write_synthetic(folder: Path) -> list[Path]:
    import soundfile

    from genre_ensemble.corpus.synthetic import synthesize_clip

    corpus = folder / "synthetic.rock.wav"
    soundfile.write(str(corpus), synthesize_clip("rock", 3, seconds=30.0, sr=22050), 22050,
                    subtype="PCM_16")
    sr = 44100
    t = np.arange(int(12.0 * sr)) / sr
    chord = sum(np.sin(2 * np.pi * f * t) for f in (110.0, 220.0, 277.2, 329.6, 440.0))
    noise = np.random.default_rng(0).normal(0.0, 0.3, t.size)
    loud = np.clip(0.35 * chord + noise, -1.0, 1.0).astype(np.float32)
    chord_path = folder / "synthetic.chord-noise-44k.wav"
    soundfile.write(str(chord_path), loud, sr, subtype="PCM_16")
    return [corpus, chord_path]


def real_clips(gtzan: Path | None) -> list[Path]:
    if gtzan is None:
        return []
    folders = sorted(p for p in gtzan.iterdir() if p.is_dir())[:3]
    return [sorted(f for f in folder.iterdir() if f.is_file())[0] for folder in folders]


def compare(port: np.ndarray, original: np.ndarray) -> dict:
    if port.shape != original.shape:
        return {"shape_port": list(port.shape), "shape_original": list(original.shape)}
    difference = float(np.max(np.abs(port - original)))
    scale = float(np.max(np.abs(original)))
    return {"max_abs_diff": difference, "max_abs_value": scale,
            "relative": difference / scale if scale else difference}


def port_check(clips: list[Path], original: dict[str, np.ndarray]) -> list[dict]:
    from genre_ensemble.corpus.audio import decode
    from genre_ensemble.members.pretrained import musicnn

    rows = []
    for index, clip in enumerate(clips):
        signal, sr = decode(clip)
        row = {"clip": clip.name, "seconds": round(len(signal) / sr, 2), "sample_rate": sr,
               "float16_nonfinite_fraction": float(original[f"{index}/float16_nonfinite"]
                                                   / original[f"{index}/float16_values"])}
        for model in MODELS:
            outputs = musicnn.embed(signal, sr, model=model)
            row[model] = {name: compare(outputs[name], original[f"{index}/{model}/{name}"])
                          for name in OUTPUTS}
            row[model]["n_patches"] = len(outputs["penultimate"])
            clip_port = musicnn.clip_embedding(signal, sr, model=model)
            clip_original = np.concatenate([original[f"{index}/{model}/{name}"].mean(axis=0)
                                            for name in CLIP_OUTPUTS])
            row[model]["clip_embedding"] = compare(clip_port, clip_original)
            row[model]["port_finite"] = bool(np.isfinite(clip_port).all())
        rows.append(row)
    return rows


def cost(repeats: int) -> dict:
    """Seconds per 30 s clip on one core (the caller pinned the threads)."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from genre_ensemble.corpus.synthetic import synthesize_clip
    from genre_ensemble.members.pretrained import musicnn
    from genre_ensemble.members.pretrained.weights import DEFAULT_DIR

    weights_dir = REPO / DEFAULT_DIR
    signal = synthesize_clip("jazz", 1, seconds=30.0, sr=22050)
    musicnn._cached_network.cache_clear()
    started = time.perf_counter()
    musicnn.load_network("MSD_musicnn", weights_dir=weights_dir)
    build = time.perf_counter() - started
    patches = musicnn.mel_patches(signal, 22050)
    started = time.perf_counter()
    musicnn.embed_patches(patches, weights_dir=weights_dir)  # traces the graph
    first = time.perf_counter() - started
    mel_times, net_times, mel_cpu, net_cpu = [], [], [], []
    for _ in range(repeats):
        started, cpu = time.perf_counter(), time.process_time()
        patches = musicnn.mel_patches(signal, 22050)
        mel_times.append(time.perf_counter() - started)
        mel_cpu.append(time.process_time() - cpu)
        started, cpu = time.perf_counter(), time.process_time()
        musicnn.embed_patches(patches, weights_dir=weights_dir)
        net_times.append(time.perf_counter() - started)
        net_cpu.append(time.process_time() - cpu)
    mel, net = float(np.median(mel_times)), float(np.median(net_times))
    return {"clip_seconds": 30.0, "patches": len(patches), "repeats": repeats,
            "read_checkpoint_and_build_s": round(build, 3), "first_call_s": round(first, 3),
            "log_mel_patches_s": round(mel, 4), "network_s": round(net, 3),
            "total_per_clip_s": round(mel + net, 3),
            # CPU seconds: less sensitive than wall time to other people's load on the machine
            "log_mel_patches_cpu_s": round(float(np.median(mel_cpu)), 4),
            "network_cpu_s": round(float(np.median(net_cpu)), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(prog=program(), description=__doc__.split("\n\n")[0])
    parser.add_argument("--legacy-python", type=Path,
                        help="python of the environment with musicnn + tf-keras")
    parser.add_argument("--gtzan", type=Path, help="folder of genre folders of real clips")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-cost", action="store_true", help="skip the cost measurement")
    parser.add_argument("--original", nargs="+", help=argparse.SUPPRESS)  # legacy side
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.original:
        run_original(args.original, args.out)
        return

    single_thread()
    if not args.no_cost:
        results = cost(args.repeats)
        print(json.dumps(results, indent=2))
        print(write_results("musicnn_cost", results))
    if args.legacy_python is not None:
        results = comparison(args.legacy_python, args.gtzan)
        print(json.dumps(results["worst_relative"], indent=2))
        print(write_results("musicnn_port_check", results))


def legacy_env() -> dict[str, str]:
    """The environment of this module's ``--original`` side in the legacy environment: its
    Keras 2 (tf-keras) and the package importable from ``src`` (for :mod:`bench.common`)."""
    return dict(os.environ, TF_USE_LEGACY_KERAS="1", PYTHONPATH=str(REPO / "src"))


def comparison(legacy_python: Path, gtzan: Path | None) -> dict:
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="musicnn-check-") as temp:
        clips = real_clips(gtzan) + write_synthetic(Path(temp))
        npz = Path(temp) / "original.npz"
        started = time.perf_counter()
        subprocess.run([str(legacy_python), "-m", "bench.musicnn_port_check", "--out", str(npz),
                        "--original", *map(str, clips)], check=True, cwd=REPO,
                       env=legacy_env())
        with np.load(npz) as data:
            original = dict(data)
        results["original_seconds"] = round(time.perf_counter() - started, 1)
        for key in ("float16_clip0_penultimate_finite", "unfixed_penultimate_rows_equal_first"):
            results[f"original_{key}"] = bool(original[key])
        results["clips"] = port_check(clips, original)
    results["worst_relative"] = {
        model: max(row[model][name]["relative"] for row in results["clips"]
                   for name in (*OUTPUTS, "clip_embedding")) for model in MODELS}
    return results


if __name__ == "__main__":
    main()
