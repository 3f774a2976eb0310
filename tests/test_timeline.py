"""The per-clip timeline: where each clip lies, its probabilities, the segments, the files.

The cutting and the segments are checked on signals and tables made here; the probabilities
with the members of the tiny trained workspace (``tiny_workspace``): each clip's row must be
what the ensemble says of that clip alone, and the file's answer must stay the mean over all
its windows.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
from PIL import Image

from genre_ensemble.core.labels import GTZAN_GENRES
from genre_ensemble.inference.classify import Prediction
from genre_ensemble.inference.inputs import cut_clips
from genre_ensemble.inference.timeline import (
    SILENT,
    TimelineError,
    check_timeline_path,
    format_segments,
    format_time,
    genre_segments,
    label_colour,
    plot_timeline,
    shown_spans,
    timeline_records,
    timeline_table,
    write_timeline,
)

from .conftest import SR, tone

# The label set of the tables made here: GTZAN's genres, the default one (the trained members'
# tests below take theirs from the members, and one test uses a label set of its own).
GENRES = GTZAN_GENRES


def split_chunks_with_spans(signal: np.ndarray, sr: int, clip_seconds: float
                            ) -> tuple[list[np.ndarray], list[tuple[float, float]]]:
    """:func:`cut_clips` as (clips' samples, their (start, end) spans)."""
    clips = cut_clips(signal, sr, clip_seconds)
    return [clip.signal for clip in clips], [(clip.start, clip.end) for clip in clips]

# --- cutting -----------------------------------------------------------------------------


def test_spans_say_where_each_clip_lies():
    clip = 3.0
    size = int(clip * SR)
    # 10 s: clips at 0, 3, 6 and a tail clip ending at 10 s (1 s left > 5 % of a clip)
    signal = tone(220, 10.0)
    chunks, spans = split_chunks_with_spans(signal, SR, clip)
    assert spans == [(0.0, 3.0), (3.0, 6.0), (6.0, 9.0), (7.0, 10.0)]
    assert all(len(chunk) == size for chunk in chunks)
    np.testing.assert_array_equal(chunks[-1], signal[-size:])
    # each clip is the signal's samples where its span says
    assert all(np.array_equal(chunk, signal[int(start * SR) : int(start * SR) + size])
               for chunk, (start, _) in zip(chunks, spans, strict=True))
    # a tail of at most 5 % of a clip is dropped, as the pipeline trims
    _, spans = split_chunks_with_spans(tone(220, 6.1), SR, clip)
    assert spans == [(0.0, 3.0), (3.0, 6.0)]
    # shorter than a clip: padded, but its span ends where the audio does
    chunks, spans = split_chunks_with_spans(tone(220, 2.0), SR, clip)
    assert spans == [(0.0, 2.0)] and len(chunks[0]) == size
    # a silent clip is left out: a gap
    with_silence = np.concatenate([tone(220, 3.0), np.zeros(size, np.float32), tone(330, 3.0)])
    chunks, spans = split_chunks_with_spans(with_silence, SR, clip)
    assert spans == [(0.0, 3.0), (6.0, 9.0)] and len(chunks) == 2
    # all silent: every clip is kept (the caller refuses silence)
    _, spans = split_chunks_with_spans(np.zeros(2 * size, np.float32), SR, clip)
    assert spans == [(0.0, 3.0), (3.0, 6.0)]


# --- segments and tables -----------------------------------------------------------------


def _prediction(spans: list[tuple[float, float]], tops: list[str], seconds: float,
                labels: tuple[str, ...] = GENRES) -> Prediction:
    """A prediction whose clip ``k`` puts 0.7 on ``tops[k]`` (0.3 / (n - 1) on the others)."""
    rows = np.full((len(spans), len(labels)), 0.3 / (len(labels) - 1))
    for k, genre in enumerate(tops):
        rows[k, labels.index(genre)] = 0.7
    members = {"stft": rows, "features": rows[:, ::-1]}
    return Prediction(ensemble=rows.mean(axis=0), members={m: r.mean(axis=0)
                                                           for m, r in members.items()},
                      weights={"stft": 0.5, "features": 0.5}, labels=labels, seconds=seconds,
                      windows=3 * len(spans),
                      spans=tuple((float(a), float(b)) for a, b in spans), clip_ensemble=rows,
                      clip_members=members)


def test_segments_merge_clips_show_gaps_and_tail_overlaps():
    spans = [(0, 30), (30, 60), (60, 90), (120, 150), (150, 180), (175, 205)]
    prediction = _prediction(spans, ["blues", "blues", "rock", "rock", "jazz", "jazz"], 205.0)
    segments = genre_segments(prediction)
    assert [(s.start, s.end, s.genre, s.clips) for s in segments] == [
        (0, 60, "blues", 2), (60, 90, "rock", 1), (90, 120, SILENT, 0), (120, 150, "rock", 1),
        (150, 205, "jazz", 2)]
    assert segments[0].probability == pytest.approx(0.7)
    assert format_segments(segments) == [
        "0:00-1:00 blues (70%, 2 clips)", "1:00-1:30 rock (70%, 1 clip)",
        "1:30-2:00 silent (skipped)", "2:00-2:30 rock (70%, 1 clip)",
        "2:30-3:25 jazz (70%, 2 clips)"]
    np.testing.assert_array_equal(shown_spans(np.asarray(spans, float))[-1], [180, 205])
    np.testing.assert_array_equal(shown_spans(prediction.spans)[-1], [180, 205])


def test_times_read_as_minutes_and_seconds():
    assert [format_time(t) for t in (0, 59.99, 90, 600, 3725.2)] == [
        "0:00", "0:59", "1:30", "10:00", "1:02:05"]


def test_table_json_csv_and_plot(tmp_path):
    first = _prediction([(0, 3), (3, 6), (4, 7)], ["rock", "metal", "metal"], 7.0)
    second = _prediction([(0, 2)], ["jazz"], 2.0)
    table = timeline_table(first)
    assert list(table.columns) == ["clip", "start", "end", "genre", "probability", *GENRES,
                                   "stft_genre", "features_genre"]
    assert table["genre"].tolist() == ["rock", "metal", "metal"]
    assert table["features_genre"].tolist() == [GENRES[9 - GENRES.index(g)]
                                                for g in ("rock", "metal", "metal")]
    np.testing.assert_allclose(table[list(GENRES)].to_numpy(), first.clip_ensemble)
    records = timeline_records(first, digits=None)
    assert records[2]["start"] == 4 and records[2]["members"] == {"stft": "metal",
                                                                  "features": "disco"}

    written = write_timeline(tmp_path / "t.csv", [("a.wav", first), ("b.mp3", second)])
    rows = pd.read_csv(written)
    assert rows["file"].tolist() == ["a.wav"] * 3 + ["b.mp3"]
    assert rows[["start", "end"]].to_numpy().tolist() == [[0, 3], [3, 6], [4, 7], [0, 2]]
    document = json.loads(write_timeline(tmp_path / "t.json", [("a.wav", first)]).read_text())
    (entry,) = document["files"]
    assert entry["file"] == "a.wav" and len(entry["clips"]) == 3
    assert [s["genre"] for s in entry["segments"]] == ["rock", "metal"]
    assert entry["segments"][1]["start"] == 3 and entry["segments"][1]["end"] == 7
    with pytest.raises(TimelineError, match="must be .csv or .json"):
        check_timeline_path(Path("t.txt"))

    png = plot_timeline(tmp_path / "plot.png", [("a.wav", first), ("b.mp3", second)])
    with Image.open(png) as image:
        assert image.format == "PNG" and image.height > image.width / 2  # two panels
        assert len(image.convert("RGB").getcolors(1 << 16) or []) > 10
    assert first.timeline().equals(table)  # Prediction.timeline() is the same table


def test_any_label_set_names_the_rows_segments_and_colours(tmp_path):
    """The labels are the prediction's own (a run's recorded label set), not GTZAN's."""
    labels = ("ambient", "baroque", "drill", "dub", "gospel", "grime", "house", "jungle",
              "kpop", "polka", "salsa", "ska", "techno", "trance", "zouk", "zydeco", "afrobeat",
              "bebop", "cumbia", "dubstep", "fado", "funk")  # 22: past tab10 and tab20
    first = _prediction([(0, 3), (3, 6), (7, 10)], ["zydeco", "zydeco", "ska"], 10.0, labels)
    table = timeline_table(first)
    assert list(table.columns) == ["clip", "start", "end", "genre", "probability", *labels,
                                   "stft_genre", "features_genre"]
    assert table["genre"].tolist() == ["zydeco", "zydeco", "ska"]
    records = timeline_records(first)
    assert set(records[0]["probabilities"]) == set(labels)
    assert [s.genre for s in genre_segments(first)] == ["zydeco", SILENT, "ska"]  # 6-7 s: a gap
    document = json.loads(write_timeline(tmp_path / "t.json", [("a.wav", first)]).read_text())
    assert document["files"][0]["top"][0]["genre"] == "zydeco"
    rows = pd.read_csv(write_timeline(tmp_path / "t.csv", [("a.wav", first)]))
    assert list(rows.columns[6 : 6 + len(labels)]) == list(labels)
    empty = pd.read_csv(write_timeline(tmp_path / "e.csv", [], labels=labels))
    assert list(empty.columns) == ["file", "clip", "start", "end", "genre", "probability",
                                   *labels]
    colours = [label_colour(k) for k in range(len(labels))]
    assert len(set(colours)) == len(labels)
    assert colours[:10] == ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                            "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]  # matplotlib's tab10
    png = plot_timeline(tmp_path / "plot.png", [("a.wav", first)])
    with Image.open(png) as image:
        assert image.format == "PNG"


# --- with trained members ----------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tiny_workspace, tmp_path_factory):
    """The tiny workspace's members and params, and a long file with a silent stretch."""
    pytest.importorskip("keras")
    from genre_ensemble.corpus.synthetic import synthesize_clip
    from genre_ensemble.inference.loading import load_members
    from genre_ensemble.members.registry import load_params

    root, _ = tiny_workspace
    params = load_params(root / "params.yaml")
    members = load_members(params, root / "models", root / "metrics" / "ensemble.json")
    clip = int(params.data.clip_seconds * SR)
    audio = np.concatenate([
        synthesize_clip("metal", 1, seconds=6.0, sr=SR),
        np.zeros(clip, np.float32),  # one silent clip: skipped, a gap
        synthesize_clip("classical", 2, seconds=7.0, sr=SR),  # 16 s: a tail clip at 13 s
    ])
    path = tmp_path_factory.mktemp("timeline") / "long.wav"
    soundfile.write(str(path), 0.8 * audio, SR, subtype="FLOAT")
    return root, params, members, path


@pytest.mark.slow
def test_each_clip_row_is_that_clip_classified_alone(trained):
    from genre_ensemble.corpus.audio import load_clip
    from genre_ensemble.inference.classify import classify_file, classify_signal

    root, params, members, path = trained
    prediction = classify_file(path, members, params)
    assert prediction.labels == members.labels
    assert [list(span) for span in prediction.spans] == [[0, 3], [3, 6], [9, 12], [12, 15],
                                                         [13, 16]]
    assert prediction.clips == 5 and prediction.clip_ensemble.shape == (5, len(members.labels))
    signal = load_clip(path, sample_rate=params.data.sample_rate, seconds=None)
    for k, (start, end) in enumerate(prediction.spans):
        alone = classify_signal(signal[int(start * SR) : int(end * SR)], SR, members, params)
        np.testing.assert_allclose(prediction.clip_ensemble[k], alone.ensemble, atol=1e-6,
                                   err_msg=f"clip {k}")
        for name in members.names:
            np.testing.assert_allclose(prediction.clip_members[name][k], alone.members[name],
                                       atol=1e-6, err_msg=f"clip {k} {name}")
    # the file's answer is still the mean over all windows, i.e. the clips' mean
    for name in members.names:
        np.testing.assert_allclose(prediction.members[name],
                                   prediction.clip_members[name].mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(prediction.ensemble, prediction.clip_ensemble.mean(axis=0),
                               atol=1e-12)


@pytest.mark.slow
def test_predict_writes_the_timeline_and_prints_the_segments(trained, tmp_path, capsys):
    from genre_ensemble.inference.classify import classify_file
    from genre_ensemble.inference.predict import main

    root, params, members, path = trained
    labels = list(members.labels)
    arguments = [str(path), "--params", str(root / "params.yaml"), "--jobs", "1"]
    assert main([*arguments, "--timeline", str(tmp_path / "t.csv"),
                 "--timeline-plot", str(tmp_path / "t.png")]) == 0
    out = capsys.readouterr().out
    expected = classify_file(path, members, params)
    lines = format_segments(genre_segments(expected))
    assert "0:06-0:09 silent (skipped)" in lines
    assert f"  timeline          {lines[0]}" in out.splitlines()
    for line in lines[1:]:
        assert " " * 20 + line in out.splitlines()
    rows = pd.read_csv(tmp_path / "t.csv")
    assert len(rows) == expected.clips
    assert rows[["start", "end"]].to_numpy().tolist() == [list(span) for span in expected.spans]
    np.testing.assert_allclose(rows[labels].to_numpy(), expected.clip_ensemble,
                               atol=1e-6)
    for name in members.names:
        assert rows[f"{name}_genre"].tolist() == [
            labels[int(np.argmax(row))] for row in expected.clip_members[name]]
    with Image.open(tmp_path / "t.png") as image:
        assert image.format == "PNG" and image.width >= 1000

    assert main([*arguments, "--timeline", str(tmp_path / "t.json")]) == 0
    capsys.readouterr()
    (document,) = json.loads((tmp_path / "t.json").read_text())["files"]
    assert document["file"] == str(path)
    got = [[clip["probabilities"][g] for g in labels] for clip in document["clips"]]
    np.testing.assert_allclose(got, expected.clip_ensemble, atol=1e-6)
    assert [s["genre"] for s in document["segments"]].count(SILENT) == 1


def test_a_timeline_suffix_without_a_format_stops_before_any_work(tmp_path, capsys):
    from genre_ensemble.inference.predict import main

    status = main(["missing.wav", "--params", str(tmp_path / "params.yaml"),
                   "--timeline", str(tmp_path / "t.txt")])
    assert status == 2
    assert capsys.readouterr().err.strip() == (
        f"error: --timeline {tmp_path / 't.txt'}: the suffix must be .csv or .json (it decides "
        "the format)")
