"""The Keras 3 vgg port (:mod:`genre_ensemble.members.pretrained.vgg`) against musicnn's own
extractor, the port's cost per clip, and a probe of its layers as genre-classifier inputs.

A sibling of :mod:`bench.musicnn_port_check`. Two environments: this module runs in the
project's (the port) and runs itself with ``--original`` in the legacy one, which has musicnn
0.1.0 and tf-keras and is made as that module's docstring says::

    python3.11 -m venv /work/scratch/legacy-venv
    echo "$PWD/.venv/lib/python3.11/site-packages" \\
        > /work/scratch/legacy-venv/lib/python3.11/site-packages/project.pth
    /work/scratch/legacy-venv/bin/pip install --no-deps tf-keras==2.21.0 \\
        .cache/musicnn/musicnn-0.1.0-py3-none-any.whl

then, from the repository root (``make musicnn`` first)::

    taskset -c 1 python -m bench.vgg_port_check \\
        --legacy-python /work/scratch/legacy-venv/bin/python \\
        --gtzan ../shared/gtzan-sample/mini [--probe [--excerpts DIR]] [--no-cost]

The original runs as ``python -m bench.vgg_port_check --original`` in the legacy environment
(the repository root its working folder, ``src`` on ``PYTHONPATH``), with
``TF_USE_LEGACY_KERAS=1`` and, in memory, these patches of its source (each recorded in the
results):

- ``batch_data``: its float16 cast before ``log10(10000 * mel + 1)`` becomes float32, as in
  the port (float16 overflows to infinity above a mel power of 6.55). The unpatched float16
  front end also runs on two clips, to record whether the vgg outputs stay finite.
- ``extractor``, the vgg branch: with ``BATCH_SIZE = 1`` every patch's ``(1, T, F, C)`` map is
  ``np.squeeze``\\ d to ``(T, F, C)`` (pool5: ``(2, 128)``) and the patches are concatenated on
  axis 0, i.e. along *time*: ``pool1`` comes back as ``(n_patches * 92, 48, 128)`` and one patch
  per clip leaves no patch axis at all. The patch drops the squeeze so each map is
  ``(n_patches, T, F, C)``; the unpatched extractor also runs on the first clip, to record its
  shapes and that its values are the same ones, reshaped. (The musicnn branch's slip, patch 1's
  cnn1..cnn3 / penultimate repeated, does not occur in the vgg branch.)
- ``extractor``, restoring: ``saver.restore`` sits in a bare ``try/except`` that, for
  ``MTT_vgg``, swallows any failure and goes on with randomly initialised weights (for
  ``MSD_vgg`` it raises "still training... available soon"); the patch records that the
  restore ran through for each model.

Clips: the first file of the blues, classical and metal folders under ``--gtzan`` (real 30 s
GTZAN clips, 22.05 kHz), and two synthetic signals made here with numpy: a full-scale chord
with noise at 44.1 kHz (12 s: resampling and float16 overflow) and plucked tones with clicks at
22.05 kHz (10 s: a remainder shorter than a patch, dropped). Also two closed-form log-mel
patches (:func:`reference_patches`) fed to the extractor directly: their outputs are the
reference values ``tests/test_vgg.py`` checks the port against (``tests/data/vgg_reference.npz``,
rewritten by the comparison). Compared per clip, model and output: the log-mel patches
(:func:`genre_ensemble.members.pretrained.musicnn.mel_patches`), every per-patch map
pool1..pool5 and the taggram, the port's per-patch vectors (mean and max of each map over time
and frequency) against the same reductions of the original maps, and the default clip
embedding; each as the largest absolute difference and that divided by the largest absolute
value.

Cost: one real 30 s clip on one core (numerical libraries and TensorFlow pinned to one thread;
run it under ``taskset -c N``), after the first call (which traces the graph, timed apart):
log-mel patches and network (:func:`genre_ensemble.members.pretrained.vgg.embed_patches`),
median of ``--repeats`` runs, wall and CPU seconds, plus the one-off reading of the checkpoint
(:func:`genre_ensemble.members.pretrained.weights.read_checkpoint`) and building of the network.

``--probe``: how the layer choices do as genre-classifier inputs on real clips (the 100 whole
clips under ``--gtzan`` and, with ``--excerpts``, GTZAN excerpts): the member's classifier
(standardised features, logistic regression C = 0.5) in stratified 5-fold cross-validation,
accuracy per (checkpoint, layer set). Informative only: small sets, GTZAN's low track numbers
share artists.

Results are merged into ``bench/results/vgg_port_check.json`` (a part not run keeps its
previous value). Importing this module needs neither the legacy environment nor TensorFlow
(``tests/test_vgg.py`` imports :func:`reference_patches`).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import shlex
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import REPO, RESULTS, command_line, machine, program, single_thread

RESULTS_FILE = RESULTS / "vgg_port_check.json"
# the reference values of tests/test_vgg.py, recorded by the comparison
REFERENCE = REPO / "tests" / "data" / "vgg_reference.npz"
MODELS = ("MSD_vgg", "MTT_vgg")
MAPS = ("pool1", "pool2", "pool3", "pool4", "pool5")
N_FRAMES = 187
REAL_GENRES = ("blues", "classical", "metal")
LEGACY_VENV = Path("/work/scratch/legacy-venv")
SETUP_COMMANDS = [
    f"python3.11 -m venv {LEGACY_VENV}",
    f"echo {REPO}/.venv/lib/python3.11/site-packages > "
    f"{LEGACY_VENV}/lib/python3.11/site-packages/project.pth",
    f"{LEGACY_VENV}/bin/pip install --no-deps tf-keras==2.21.0 "
    f"{REPO}/.cache/musicnn/musicnn-0.1.0-py3-none-any.whl",
]


def pin_tensorflow() -> None:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def weights_folder() -> Path:
    """The folder holding the musicnn wheel (``make musicnn``), found from the repository."""
    from genre_ensemble.members.pretrained.weights import weights_dir

    return weights_dir(REPO)


def reference_patches() -> np.ndarray:
    """Two deterministic, closed-form log-mel-like patches, shape (2, 187, 96), float32.

    Values in about [0, 4.3], like ``log10(10000 * mel + 1)`` of ordinary audio: patch 0 a
    smooth time-frequency pattern over a falling spectral envelope, patch 1 clicks every 23
    frames over a comb of harmonics.
    """
    t = np.arange(N_FRAMES, dtype=np.float64)[:, None]
    f = np.arange(96, dtype=np.float64)[None, :]
    smooth = (1.5 + 1.2 * np.sin(2 * np.pi * t / 17.0) * np.cos(2 * np.pi * f / 23.0)
              + 0.8 * np.exp(-f / 30.0) + 0.3 * np.sin(2 * np.pi * t * f / 997.0))
    clicks = (0.5 + 3.0 * ((t % 23) < 2) * np.exp(-f / 40.0)
              + 0.5 * (1 + np.cos(2 * np.pi * f / 7.0)) * np.exp(-f / 60.0))
    return np.stack([smooth, clicks]).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# The original (legacy environment only)


def _patch(module, name: str, replacements: list[tuple[str, str]]):
    """Redefine ``module.name`` from its source with each ``old`` replaced by ``new`` (every
    occurrence); return the original function."""
    original = getattr(module, name)
    source = inspect.getsource(original)
    for old, new in replacements:
        if old not in source:
            raise RuntimeError(f"{old!r} not in musicnn's {name}: a different musicnn version?")
        source = source.replace(old, new)
    exec(source, module.__dict__)  # the module's functions see the new one
    return original


def _original_versions() -> dict:
    from importlib.metadata import version

    return {name: version(name) for name in ("musicnn", "tensorflow-cpu", "tf-keras", "numpy",
                                               "librosa", "soxr", "soundfile")}


def run_original(clips: list[str], out: Path) -> None:
    """musicnn's extractor on each clip and model, saved to an .npz (legacy environment)."""
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    pin_tensorflow()
    from musicnn import extractor

    float16_batch_data = _patch(extractor, "batch_data",
                                [("astype(np.float16)", "astype(np.float32)")])
    restored: list[str] = []
    extractor._RESTORED = restored
    restore = "saver.restore(sess, os.path.dirname(__file__)+'/'+model+'/')"
    unfixed_extractor = _patch(extractor, "extractor", [
        # keep the batch axis of the vgg maps: patches stacked on a patch axis, not on time
        *((f"np.squeeze({pool}_)", f"({pool}_)") for pool in MAPS),
        # record that the checkpoint was restored (the bare except would hide a failure)
        (restore, f"{restore}; _RESTORED.append(model)"),
    ])

    arrays: dict[str, np.ndarray] = {"versions": np.array(json.dumps(_original_versions()))}
    for index, clip in enumerate(clips):
        batch32, _ = extractor.batch_data(clip, N_FRAMES, N_FRAMES)
        arrays[f"{index}/log_mel"] = batch32.astype(np.float32)
        _, spectrogram16 = float16_batch_data(clip, N_FRAMES, N_FRAMES)
        arrays[f"{index}/float16_nonfinite"] = np.array(np.count_nonzero(
            ~np.isfinite(spectrogram16)))
        arrays[f"{index}/float16_values"] = np.array(spectrogram16.size)
        for model in MODELS:
            taggram, _, features = extractor.extractor(clip, model=model, input_length=3,
                                                       extract_features=True)
            arrays[f"{index}/{model}/taggram"] = np.asarray(taggram, dtype=np.float32)
            for pool in MAPS:
                arrays[f"{index}/{model}/{pool}"] = np.asarray(features[pool], dtype=np.float32)
    arrays["restored"] = np.array(sorted(set(restored)))

    # the unfixed vgg loop (float32 front end) on the first clip: shapes, and the same values?
    _, _, features = unfixed_extractor(clips[0], model="MSD_vgg", input_length=3,
                                       extract_features=True)
    for pool in MAPS:
        arrays[f"unfixed/{pool}"] = np.asarray(features[pool], dtype=np.float32)

    # the closed-form reference patches, fed to the (fixed) extractor in place of a file
    patches = reference_patches()
    real_batch_data = extractor.batch_data
    extractor.batch_data = lambda file_name, n_frames, overlap: (patches, None)
    for model in MODELS:
        taggram, _, features = extractor.extractor("reference-patches", model=model,
                                                   input_length=3, extract_features=True)
        arrays[f"reference/{model}/taggram"] = np.asarray(taggram, dtype=np.float32)
        for pool in MAPS:
            arrays[f"reference/{model}/{pool}"] = np.asarray(features[pool], dtype=np.float32)

    # the unpatched float16 front end on the first clip and the loud chord: finite outputs?
    extractor.batch_data = float16_batch_data
    for index in (0, len(clips) - 2):
        taggram, _, features = extractor.extractor(clips[index], model="MSD_vgg",
                                                   input_length=3, extract_features=True)
        arrays[f"float16/{index}/taggram_finite"] = np.array(bool(np.isfinite(taggram).all()))
        arrays[f"float16/{index}/pool5_finite"] = np.array(
            bool(np.isfinite(features["pool5"]).all()))
    extractor.batch_data = real_batch_data
    np.savez(out, **arrays)


# ---------------------------------------------------------------------------------------------
# The port (project environment)


def write_synthetic(folder: Path) -> list[Path]:
    """Two synthetic signals as 16-bit WAV files: a loud 44.1 kHz chord with noise (12 s) and
    plucked tones with clicks at 22.05 kHz (10 s)."""
    import soundfile

    sr = 44100
    t = np.arange(int(12.0 * sr)) / sr
    chord = sum(np.sin(2 * np.pi * f * t) for f in (110.0, 220.0, 277.2, 329.6, 440.0))
    noise = np.random.default_rng(0).normal(0.0, 0.3, t.size)
    loud = np.clip(0.35 * chord + noise, -1.0, 1.0).astype(np.float32)
    chord_path = folder / "synthetic.chord-noise-44k.wav"
    soundfile.write(str(chord_path), loud, sr, subtype="PCM_16")

    sr = 22050
    t = np.arange(int(10.0 * sr)) / sr
    plucks = np.zeros_like(t)
    for number, start in enumerate(np.arange(0.0, 10.0, 0.4)):
        local = t - start
        on = local >= 0
        frequency = (196.0, 246.9, 293.7, 392.0)[number % 4]
        plucks[on] += np.sin(2 * np.pi * frequency * local[on]) * np.exp(-6.0 * local[on])
    clicks = np.zeros_like(t)
    clicks[(np.arange(0.0, 10.0, 0.25) * sr).astype(int)] = 1.0
    clicks = np.convolve(clicks, np.exp(-np.arange(200) / 20.0), mode="same")
    quiet = (0.25 * plucks + 0.3 * clicks).astype(np.float32)
    pluck_path = folder / "synthetic.plucks-clicks-22k.wav"
    soundfile.write(str(pluck_path), np.clip(quiet, -1, 1), sr, subtype="PCM_16")
    return [chord_path, pluck_path]


def real_clips(gtzan: Path | None) -> list[Path]:
    if gtzan is None:
        return []
    return [sorted((gtzan / genre).glob("*.wav"))[0] for genre in REAL_GENRES]


def compare(port: np.ndarray, original: np.ndarray) -> dict:
    if port.shape != original.shape:
        return {"shape_port": list(port.shape), "shape_original": list(original.shape)}
    difference = float(np.max(np.abs(port.astype(np.float64) - original)))
    scale = float(np.max(np.abs(original)))
    return {"max_abs_diff": difference, "max_abs_value": scale,
            "relative": difference / scale if scale else difference}


def reduce_maps(maps: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The port's per-patch vectors, computed in numpy from (n, T, F, C) maps."""
    vectors = {}
    for pool in MAPS:
        vectors[f"{pool}_mean"] = maps[pool].astype(np.float64).mean(axis=(1, 2))
        vectors[f"{pool}_max"] = maps[pool].max(axis=(1, 2))
    return vectors


def _run_port(network, patches: np.ndarray) -> dict[str, np.ndarray]:
    outputs = network(np.asarray(patches, dtype=np.float32), training=False)
    return {name: np.asarray(value) for name, value in outputs.items()}


def port_check(clips: list[Path], original: dict[str, np.ndarray]) -> dict:
    import librosa

    from genre_ensemble.members.pretrained import vgg
    from genre_ensemble.members.pretrained.musicnn import mel_patches
    from genre_ensemble.members.pretrained.weights import read_checkpoint

    folder = weights_folder()
    networks = {model: vgg.build_network(read_checkpoint(model, folder=folder),
                                         feature_maps=True)
                for model in MODELS}
    rows = []
    for index, clip in enumerate(clips):
        # soundfile through librosa at the native rate; musicnn.log_mel resamples as
        # librosa.load does
        signal, sr = librosa.load(str(clip), sr=None, mono=True)
        patches = mel_patches(signal, sr)
        row = {"clip": clip.name, "seconds": round(len(signal) / sr, 2), "sample_rate": sr,
               "n_patches": len(patches),
               "float16_nonfinite_fraction": float(original[f"{index}/float16_nonfinite"]
                                                   / original[f"{index}/float16_values"]),
               "log_mel": compare(patches, original[f"{index}/log_mel"])}
        for model in MODELS:
            port = _run_port(networks[model], patches)
            maps = {pool: original[f"{index}/{model}/{pool}"] for pool in MAPS}
            result = {name: compare(port[name], maps[name]) for name in MAPS}
            result["taggram"] = compare(port["taggram"], original[f"{index}/{model}/taggram"])
            vectors = reduce_maps(maps)
            result.update({name: compare(port[name], vectors[name]) for name in vectors})
            clip_port = np.concatenate([port[n].mean(axis=0) for n in vgg.CLIP_LAYERS])
            clip_original = np.concatenate([vectors[n].mean(axis=0) for n in vgg.CLIP_LAYERS])
            result["clip_embedding"] = compare(clip_port, clip_original)
            result["port_finite"] = bool(all(np.isfinite(v).all() for v in port.values()))
            row[model] = result
        rows.append(row)

    reference: dict = {}
    saved: dict[str, np.ndarray] = {}
    patches = reference_patches()
    for model in MODELS:
        port = _run_port(networks[model], patches)
        maps = {pool: original[f"reference/{model}/{pool}"] for pool in MAPS}
        vectors = reduce_maps(maps)
        vectors["taggram"] = original[f"reference/{model}/taggram"]
        reference[model] = {name: compare(port[name], maps[name]) for name in MAPS}
        reference[model].update({name: compare(port[name], vectors[name]) for name in vectors})
        for name in vgg.LAYERS:
            saved[f"{model}/{name}"] = vectors[name].astype(np.float32)
    saved["patches_sum"] = np.array(patches.astype(np.float64).sum())
    np.savez_compressed(REFERENCE, **saved)
    return {"clips": rows, "reference_patches": reference}


def unfixed_loop(original: dict[str, np.ndarray], clip0_maps: dict[str, np.ndarray]) -> dict:
    """What the unpatched vgg loop returns on the first clip, against the fixed one."""
    result = {}
    for pool in MAPS:
        unfixed, fixed = original[f"unfixed/{pool}"], clip0_maps[pool]
        result[pool] = {"shape_unfixed": list(unfixed.shape), "shape_fixed": list(fixed.shape),
                        "same_values_reshaped": bool(unfixed.size == fixed.size and
                                                     np.array_equal(unfixed.reshape(fixed.shape),
                                                                    fixed))}
    return result


def legacy_env() -> dict[str, str]:
    """The environment of the ``--original`` side in the legacy environment: its Keras 2
    (tf-keras) and the package importable from ``src`` (for :mod:`bench.common`)."""
    return dict(os.environ, TF_USE_LEGACY_KERAS="1", PYTHONPATH=str(REPO / "src"))


def comparison(legacy_python: Path, gtzan: Path | None) -> dict:
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="vgg-check-") as temp:
        clips = real_clips(gtzan) + write_synthetic(Path(temp))
        npz = Path(temp) / "original.npz"
        command = [str(legacy_python), "-m", "bench.vgg_port_check", "--out", str(npz),
                   "--original", *map(str, clips)]
        started = time.perf_counter()
        subprocess.run(command, check=True, cwd=REPO, env=legacy_env())
        results["original_seconds"] = round(time.perf_counter() - started, 1)
        results["original_command"] = "TF_USE_LEGACY_KERAS=1 PYTHONPATH=src " + shlex.join(
            [*command[:3], "--out", "<temp>/original.npz", "--original",
             *(str(c) if c.parent != Path(temp) else f"<temp>/{c.name}" for c in clips)])
        with np.load(npz) as data:
            original = dict(data)
        results.update(port_check(clips, original))  # the synthetic files live in temp
    results["original_versions"] = json.loads(str(original["versions"]))
    results["extractor_slips"] = {
        "float16_log_compression": {
            "patched": "batch_data: astype(np.float16) -> astype(np.float32)",
            "nonfinite_fraction_per_clip": {
                Path(c).name: float(original[f"{i}/float16_nonfinite"]
                                    / original[f"{i}/float16_values"])
                for i, c in enumerate(clips)},
            "unpatched_MSD_vgg_outputs_finite": {
                Path(clips[i]).name: {
                    "taggram": bool(original[f"float16/{i}/taggram_finite"]),
                    "pool5": bool(original[f"float16/{i}/pool5_finite"])}
                for i in (0, len(clips) - 2)}},
        "vgg_patch_loop_squeeze": {
            "patched": "extractor: np.squeeze(poolK_) -> (poolK_), maps keep their patch axis",
            "unpatched_on_first_clip": unfixed_loop(
                original, {p: original[f"0/MSD_vgg/{p}"] for p in MAPS})},
        "restore_in_bare_except": {
            "patched": "extractor: records that saver.restore ran through",
            "restored": [str(m) for m in original["restored"]]},
    }
    worst: dict = {}
    for model in MODELS:
        rows = [row[model] for row in results["clips"]]
        worst[model] = {
            "maps_and_taggram": max(r[n]["relative"] for r in rows for n in (*MAPS, "taggram")),
            "vectors": max(r[n]["relative"] for r in rows for n in r
                           if n.endswith(("_mean", "_max"))),
            "clip_embedding": max(r["clip_embedding"]["relative"] for r in rows),
            "reference_patches": max(v["relative"] for v in
                                     results["reference_patches"][model].values())}
    worst["log_mel"] = max(row["log_mel"]["relative"] for row in results["clips"])
    results["worst_relative"] = worst
    return results


def cost(clip: Path, repeats: int) -> dict:
    """Seconds per 30 s clip on one core (the caller pinned the threads)."""
    import librosa

    from genre_ensemble.members.pretrained import vgg
    from genre_ensemble.members.pretrained.musicnn import mel_patches

    folder = weights_folder()
    signal, sr = librosa.load(str(clip), sr=None, mono=True)
    results: dict = {"clip": clip.name, "clip_seconds": round(len(signal) / sr, 2),
                     "sample_rate": sr, "repeats": repeats}
    for model in MODELS:
        vgg._cached_network.cache_clear()
        started, cpu = time.perf_counter(), time.process_time()
        vgg.load_network(model, weights_dir=folder)
        build, build_cpu = time.perf_counter() - started, time.process_time() - cpu
        patches = mel_patches(signal, sr)
        started = time.perf_counter()
        vgg.embed_patches(patches, model=model, weights_dir=folder)  # traces the graph
        first = time.perf_counter() - started
        mel_times, net_times, mel_cpu, net_cpu = [], [], [], []
        for _ in range(repeats):
            started, cpu = time.perf_counter(), time.process_time()
            patches = mel_patches(signal, sr)
            mel_times.append(time.perf_counter() - started)
            mel_cpu.append(time.process_time() - cpu)
            started, cpu = time.perf_counter(), time.process_time()
            vgg.embed_patches(patches, model=model, weights_dir=folder)
            net_times.append(time.perf_counter() - started)
            net_cpu.append(time.process_time() - cpu)
        mel, net = float(np.median(mel_times)), float(np.median(net_times))
        results[model] = {
            "patches": len(patches), "read_checkpoint_and_build_s": round(build, 3),
            "read_checkpoint_and_build_cpu_s": round(build_cpu, 3),
            "first_call_s": round(first, 3), "log_mel_patches_s": round(mel, 4),
            "network_s": round(net, 3), "total_per_clip_s": round(mel + net, 3),
            # CPU seconds: less sensitive than wall time to other people's load
            "log_mel_patches_cpu_s": round(float(np.median(mel_cpu)), 4),
            "network_cpu_s": round(float(np.median(net_cpu)), 3),
            "total_per_clip_cpu_s": round(float(np.median(mel_cpu) + np.median(net_cpu)), 3),
            "network_s_all": [round(x, 3) for x in net_times]}
    return results


# ---------------------------------------------------------------------------------------------
# Which layers: a small probe on real clips

PROBE_SETS: dict[str, tuple[str, ...]] = {
    **{f"{pool}": (f"{pool}_mean", f"{pool}_max") for pool in MAPS},
    "pool5_mean": ("pool5_mean",),
    "taggram": ("taggram",),
    "pool3+pool4+pool5": tuple(f"pool{k}_{s}" for k in (3, 4, 5) for s in ("mean", "max")),
    "pool4+pool5": tuple(f"pool{k}_{s}" for k in (4, 5) for s in ("mean", "max")),
    "pool4+pool5+taggram": (*(f"pool{k}_{s}" for k in (4, 5) for s in ("mean", "max")),
                            "taggram"),
    "all pools": tuple(f"pool{k}_{s}" for k in range(1, 6) for s in ("mean", "max")),
}


def _probe_set(folder: Path) -> tuple[list[Path], np.ndarray]:
    paths = sorted(folder.glob("*/*.wav"))
    return paths, np.array([p.parent.name for p in paths])


def probe(sources: dict[str, Path], *, folds: int = 5, seeds: tuple[int, ...] = (0, 1)) -> dict:
    import librosa
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from genre_ensemble.members.pretrained import vgg
    from genre_ensemble.members.pretrained.musicnn import mel_patches

    folder = weights_folder()
    results: dict = {"classifier": "StandardScaler + LogisticRegression(C=0.5, max_iter=2000)",
                     "protocol": f"stratified {folds}-fold CV, shuffled, seeds {list(seeds)}; "
                                 "mean (and std over folds x seeds) accuracy",
                     "clip_layers": list(vgg.CLIP_LAYERS)}
    for source, folder in sources.items():
        paths, labels = _probe_set(folder)
        started = time.process_time()
        embeddings = {model: {name: [] for name in vgg.LAYERS} for model in MODELS}
        for path in paths:
            signal, sr = librosa.load(str(path), sr=None, mono=True)
            patches = mel_patches(signal, sr)
            for model in MODELS:
                outputs = vgg.embed_patches(patches, model=model, weights_dir=folder)
                for name in vgg.LAYERS:
                    embeddings[model][name].append(outputs[name].mean(axis=0))
        table: dict = {"clips": len(paths), "genres": len(set(labels)),
                       "embedding_cpu_s": round(time.process_time() - started, 1)}
        for model in MODELS:
            arrays = {n: np.stack(v) for n, v in embeddings[model].items()}
            for label, names in PROBE_SETS.items():
                x = np.concatenate([arrays[n] for n in names], axis=1)
                scores = []
                for seed in seeds:
                    classifier = make_pipeline(StandardScaler(),
                                               LogisticRegression(C=0.5, max_iter=2000))
                    split = StratifiedKFold(folds, shuffle=True, random_state=seed)
                    scores.extend(cross_val_score(classifier, x, labels, cv=split))
                table.setdefault(model, {})[label] = {
                    "size": int(x.shape[1]), "accuracy": round(float(np.mean(scores)), 4),
                    "std": round(float(np.std(scores)), 4)}
        results[source] = table
    return results


# ---------------------------------------------------------------------------------------------


def run_machine() -> dict:
    """:func:`bench.common.machine` with the thread settings of this run and the versions of
    the libraries the port and the probe use."""
    from importlib.metadata import version

    return {**machine(),
            "thread_variables": {n: os.environ.get(n) for n in ("OMP_NUM_THREADS",
                                                               "OPENBLAS_NUM_THREADS")},
            "tensorflow_threads": "intra-op 1, inter-op 1",
            "port_versions": {name: version(name) for name in (
                "numpy", "librosa", "soxr", "soundfile", "keras", "tensorflow-cpu",
                "scikit-learn")}}


def main() -> None:
    summary = " ".join(__doc__.split("\n\n")[0].split())
    parser = argparse.ArgumentParser(prog=program(), description=summary)
    parser.add_argument("--legacy-python", type=Path,
                        help="python of the environment with musicnn + tf-keras")
    parser.add_argument("--gtzan", type=Path, help="folder of genre folders of real clips")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-cost", action="store_true", help="skip the cost measurement")
    parser.add_argument("--probe", action="store_true", help="run the layer probe")
    parser.add_argument("--excerpts", type=Path, help="more real clips for --probe")
    parser.add_argument("--original", nargs="+", help=argparse.SUPPRESS)  # legacy side
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    single_thread()  # numerical libraries on one thread, before TensorFlow loads
    if args.original:
        run_original(args.original, args.out)
        return

    pin_tensorflow()
    results = json.loads(RESULTS_FILE.read_text()) if RESULTS_FILE.is_file() else {}
    command = command_line()
    results.update({"benchmark": "vgg_port_check", "setup_commands": SETUP_COMMANDS})
    results.setdefault("commands", {})
    if args.legacy_python is not None:
        results.update(comparison(args.legacy_python, args.gtzan))
        results["commands"]["comparison"] = command
        results["machine_comparison"] = run_machine()
        print(json.dumps(results["worst_relative"], indent=2))
    if not args.no_cost:
        if args.gtzan is None:
            parser.error("the cost needs --gtzan (a real 30 s clip)")
        results["cost"] = cost(real_clips(args.gtzan)[0], args.repeats)
        results["commands"]["cost"] = command
        results["machine_cost"] = run_machine()
        print(json.dumps(results["cost"], indent=2))
    if args.probe:
        sources = {"gtzan_mini": args.gtzan}
        if args.excerpts is not None:
            sources["gtzan_excerpts"] = args.excerpts
        results["layer_probe"] = probe(sources)
        results["commands"]["probe"] = command
        results["machine_probe"] = run_machine()
        print(json.dumps(results["layer_probe"], indent=2))
    results["date"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    RESULTS_FILE.write_text(json.dumps(results, indent=2) + "\n")
    print(RESULTS_FILE)


if __name__ == "__main__":
    main()
