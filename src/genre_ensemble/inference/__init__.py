"""Classify audio with a trained ensemble: the Python API of ``genre-ensemble predict``.

::

    from genre_ensemble.inference import classify_file, load_members, load_params, write_timeline

    params = load_params("params.yaml")
    members = load_members(params)          # models/ and metrics/ensemble.json of a run
    prediction = classify_file("song.mp3", members, params)
    prediction.top(3)                       # [("rock", 0.61), ("metal", 0.22), ...]
    prediction.clip_ensemble                # (n_clips, n_labels): the song's timeline
    prediction.timeline()                   # the same as a table: one row per clip
    write_timeline("song.csv", [("song.mp3", prediction)])   # or .json; plot_timeline: PNG

Importing this package imports nothing heavy; TensorFlow loads with the first CNN member.
"""

from genre_ensemble.inference.classify import (
    FileNotClassifiedError,
    Prediction,
    classify_file,
    classify_files,
    classify_signal,
    predict_batch,
)
from genre_ensemble.inference.inputs import MemberInputs, file_inputs, signal_inputs
from genre_ensemble.inference.loading import LoadedMembers, load_members
from genre_ensemble.inference.timeline import (
    genre_segments,
    plot_timeline,
    timeline_table,
    write_timeline,
)
from genre_ensemble.members.registry import load_params

__all__ = [
    "FileNotClassifiedError",
    "LoadedMembers",
    "MemberInputs",
    "Prediction",
    "classify_file",
    "classify_files",
    "classify_signal",
    "file_inputs",
    "genre_segments",
    "load_members",
    "load_params",
    "plot_timeline",
    "predict_batch",
    "signal_inputs",
    "timeline_table",
    "write_timeline",
]
