"""`genre-ensemble serve` as a user meets it: a real server process on a free loopback port,
called over HTTP, with the members of the tiny trained workspace.

One server runs for the whole module (a start pays TensorFlow's import), with small limits so
that the bad cases are cheap to make: uploads up to 1.5 MB, audio up to 30 s, one
classification at a time and one more request admitted. Its TMPDIR is the test's own, so the
tests can see that no upload is ever left on disk. The page test drives headless Chromium
(skipped without it) with every request off this machine refused.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from .browser import DevTools, block_all_but_loopback, find_chromium, is_loopback, problems_in
from .conftest import SR

httpx = pytest.importorskip("httpx")
pytest.importorskip("keras")
pytest.importorskip("starlette")

pytestmark = pytest.mark.slow

MAX_UPLOAD_MB = 1.5
MAX_MINUTES = 0.5
LIMITS = ["--max-upload-mb", str(MAX_UPLOAD_MB), "--max-minutes", str(MAX_MINUTES),
          "--max-concurrent", "1", "--max-queue", "1", "--queue-wait", "30"]
START_TIMEOUT = 240  # seconds: TensorFlow's import and the models' load on a busy machine


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    url: str
    port: int
    process: subprocess.Popen
    tmp: Path
    log: Path
    root: Path
    env: dict

    def uploads_left(self) -> list[Path]:
        """Files in the service's upload folder(s) under its TMPDIR."""
        return [p for p in self.tmp.glob("genre-ensemble-uploads-*/*")]

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels of the served members, in class order: the run's recorded label set, as
        :func:`genre_ensemble.inference.loading.load_members` reads it."""
        from genre_ensemble.core.paths import ENSEMBLE_METRICS
        from genre_ensemble.inference.loading import ensemble_record
        from genre_ensemble.members.registry import load_params

        members = load_params(self.root / "params.yaml").ensemble.members
        return ensemble_record(self.root / ENSEMBLE_METRICS, members)[1]


@pytest.fixture(scope="module")
def server(tiny_workspace, tmp_path_factory) -> Server:
    root, env = tiny_workspace
    tmp = tmp_path_factory.mktemp("server-tmp")
    log = tmp_path_factory.mktemp("server-log") / "serve.log"
    port = free_port()
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "genre_ensemble.cli", "serve", "--port", str(port),
             "--params", str(root / "params.yaml"), *LIMITS],
            cwd=root, env={**env, "TMPDIR": str(tmp)}, stdout=log_file,
            stderr=subprocess.STDOUT)
    started = Server(f"http://127.0.0.1:{port}", port, process, tmp, log, root, env)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        assert process.poll() is None, f"serve exited {process.returncode}:\n{started.log_tail()}"
        assert time.monotonic() < deadline, f"serve did not answer:\n{started.log_tail()}"
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{started.url}/health", timeout=5).status_code == 200:
                break
        time.sleep(0.5)
    yield started
    process.terminate()
    try:
        status = process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
    assert status == 0, started.log_tail()
    assert not list(tmp.glob("genre-ensemble-uploads-*")), "the upload folder was left behind"
    assert "Traceback" not in log.read_text(), started.log_tail()


@pytest.fixture(scope="module")
def audio(tmp_path_factory) -> dict[str, Path]:
    """The files the tests send, made here."""
    from genre_ensemble.corpus.synthetic import synthesize_clip

    folder = tmp_path_factory.mktemp("audio")
    clip = 3 * SR
    song = np.concatenate([synthesize_clip("rock", 11, seconds=3.0, sr=SR),
                           np.zeros(clip, np.float32),  # a silent clip: a gap in the timeline
                           synthesize_clip("metal", 12, seconds=4.0, sr=SR)])  # tail clip
    files = {"song.wav": folder / "song.wav", "song.mp3": folder / "song.mp3"}
    soundfile.write(str(files["song.wav"]), 0.8 * song, SR, subtype="PCM_16")
    jazz = synthesize_clip("jazz", 13, seconds=8.0, sr=44100)
    soundfile.write(str(files["song.mp3"]), 0.8 * jazz, 44100, format="MP3")

    def add(name: str, data: bytes) -> None:
        files[name] = folder / name
        files[name].write_bytes(data)

    wav, mp3 = files["song.wav"].read_bytes(), files["song.mp3"].read_bytes()
    add("truncated.wav", wav[: len(wav) // 3])
    add("truncated.mp3", mp3[: len(mp3) // 3])
    add("words.wav", b"these are words, not samples\n" * 20)
    add("noise.mp3", np.random.default_rng(0).bytes(20000))
    add("empty.flac", b"")
    files["silent.wav"] = folder / "silent.wav"
    soundfile.write(str(files["silent.wav"]), np.zeros(4 * SR, np.float32), SR)
    files["long.mp3"] = folder / "long.mp3"  # 40 s: over the 30 s limit, 0.2 MB
    soundfile.write(str(files["long.mp3"]), 0.5 * synthesize_clip("pop", 14, seconds=40.0,
                                                                  sr=SR), SR, format="MP3")
    files["big.wav"] = folder / "big.wav"  # 1.76 MB: over the 1.5 MB limit
    soundfile.write(str(files["big.wav"]), 0.5 * synthesize_clip("pop", 15, seconds=40.0, sr=SR),
                    SR, subtype="PCM_16")
    return files


def post_file(server: Server, path: Path, *, name: str | None = None, **kwargs: Any):
    with path.open("rb") as handle:
        return httpx.post(f"{server.url}/classify", files={"file": (name or path.name, handle)},
                          timeout=120, **kwargs)


def assert_error(response, status: int, *words: str) -> str:
    """``response`` is ``status`` with a one-sentence JSON error holding ``words``."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    message = body["error"]
    assert body["status"] == status
    assert "\n" not in message and "Traceback" not in message and len(message) < 300, message
    for word in words:
        assert word in message, message
    return message


# --- the answers ---------------------------------------------------------------------------


def test_health_names_the_models_commit_and_metrics(server):
    health = httpx.get(f"{server.url}/health", timeout=10).json()
    assert health["status"] == "ok" and health["models_loaded"] is True
    head = subprocess.run(["git", "-C", str(server.root), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()
    assert health["commit"] == head and health["lock_committed"] is True
    assert health["models_match_lock"] is True
    recorded = json.loads((server.root / "metrics" / "ensemble.json").read_text())["weights"]
    total = sum(recorded.values())
    assert {n: m["weight"] for n, m in health["members"].items()} == pytest.approx(
        {n: w / total for n, w in recorded.items()})
    metrics = json.loads((server.root / "metrics" / "metrics.json").read_text())
    assert health["metrics"]["ensemble"]["accuracy"] == metrics["ensemble"]["accuracy"]
    assert health["limits"]["max_upload_bytes"] == int(MAX_UPLOAD_MB * 1e6)
    assert health["limits"]["max_seconds"] == MAX_MINUTES * 60
    assert health["genres"] == list(server.labels)


def _predict(server: Server, paths: list[Path], tmp_path: Path) -> tuple[dict, dict]:
    """``genre-ensemble predict --json --timeline`` on ``paths``: (files by name, timelines)."""
    timeline = tmp_path / "timeline.json"
    result = subprocess.run(
        [sys.executable, "-m", "genre_ensemble.cli", "predict", *map(str, paths), "--params",
         str(server.root / "params.yaml"), "--json", "--top", "10", "--batch", "1", "--jobs", "1",
         "--timeline", str(timeline)],
        cwd=server.root, env=server.env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    files = {Path(d["file"]).name: d for d in json.loads(result.stdout)["files"]}
    timelines = {Path(d["file"]).name: d for d in json.loads(timeline.read_text())["files"]}
    return files, timelines


def test_a_wav_and_an_mp3_get_predicts_probabilities(server, audio, tmp_path):
    names = ["song.wav", "song.mp3"]
    labels = server.labels
    expected, timelines = _predict(server, [audio[n] for n in names], tmp_path)
    for name in names:
        response = post_file(server, audio[name])
        assert response.status_code == 200, response.text
        answer = response.json()
        want = expected[name]
        assert answer["file"] == name and answer["bytes"] == audio[name].stat().st_size
        assert answer["clips"] == want["clips"] and answer["windows"] == want["windows"]
        assert list(answer["probabilities"]) == list(labels)
        np.testing.assert_allclose([answer["probabilities"][g] for g in labels],
                                   [want["ensemble"]["probabilities"][g] for g in labels],
                                   rtol=0, atol=1e-6, err_msg=name)
        assert answer["genre"] == want["ensemble"]["top"][0]["genre"]
        for member, values in want["members"].items():
            np.testing.assert_allclose(
                [answer["members"][member]["probabilities"][g] for g in labels],
                [values["probabilities"][g] for g in labels], rtol=0, atol=1e-6,
                err_msg=f"{name} {member}")
            assert answer["members"][member]["weight"] == pytest.approx(values["weight"])
        # the timeline: the same rows as predict --timeline
        clips = timelines[name]["clips"]
        assert len(answer["timeline"]) == len(clips) == answer["clips"]
        for got, row in zip(answer["timeline"], clips, strict=True):
            assert (got["start"], got["end"]) == (row["start"], row["end"])
            assert got["members"] == row["members"] and got["genre"] == row["genre"]
            np.testing.assert_allclose([got["probabilities"][g] for g in labels],
                                       [row["probabilities"][g] for g in labels], rtol=0,
                                       atol=1e-6)
        assert answer["segments"] == timelines[name]["segments"]
    wav = post_file(server, audio["song.wav"]).json()
    # 10 s at 3 s clips: 0-3, (3-6 silent, skipped), 6-9 and the tail 7-10
    assert [(c["start"], c["end"]) for c in wav["timeline"]] == [(0, 3), (6, 9), (7, 10)]
    assert "silent" in [s["genre"] for s in wav["segments"]]
    assert server.uploads_left() == []


def test_curl_as_the_docs_show_it(server, audio):
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    result = subprocess.run([curl, "-s", "-F", f"file=@{audio['song.mp3']}",
                             f"127.0.0.1:{server.port}/classify"], capture_output=True,
                            text=True, timeout=120, check=True)
    answer = json.loads(result.stdout)
    assert answer["file"] == "song.mp3" and answer["genre"] in server.labels
    assert sum(answer["probabilities"].values()) == pytest.approx(1.0)


# --- bad input -----------------------------------------------------------------------------

BAD_FILES = {
    # file: (status, words of the sentence)
    "words.wav": (415, ["not audio"]),
    "noise.mp3": (415, ["not audio"]),
    "empty.flac": (422, ["empty"]),
    "truncated.wav": (422, ["truncated", "10.00 s", "3.33 s"]),
    "truncated.mp3": (422, ["truncated"]),
    "silent.wav": (422, ["silent"]),
    "long.mp3": (413, ["0:40", "longer than the 0:30"]),
    "big.wav": (413, ["larger than the 1.5 MB"]),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_a_bad_file_gets_one_sentence_and_a_4xx(server, audio, name):
    status, words = BAD_FILES[name]
    assert_error(post_file(server, audio[name]), status, *words)
    assert server.uploads_left() == []


def _stream(path: Path, boundary: str):
    """A multipart body sent in chunks without a Content-Length (chunked encoding)."""
    yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
           f"filename=\"{path.name}\"\r\n\r\n").encode()
    with path.open("rb") as handle:
        while block := handle.read(64 * 1024):
            yield block
    yield f"\r\n--{boundary}--\r\n".encode()


def test_bad_requests_get_one_sentence_and_a_4xx(server, audio):
    url = f"{server.url}/classify"
    # a folder name (or any path) typed as text instead of a file
    assert_error(httpx.post(url, files={"file": (None, "music/")}, timeout=30), 400, "music/",
                 "not a file")
    assert_error(post_file(server, audio["song.wav"], name="music/"), 400, "folder")
    # no file field
    assert_error(httpx.post(url, files={"song": ("a.wav", b"RIFF")}, timeout=30), 400,
                 "no \"file\" field", "\"song\"")
    assert_error(httpx.post(url, files={"top": (None, "3")}, timeout=30), 400,
                 "no \"file\" field")
    assert_error(httpx.post(url, data={"file": "song.mp3"}, timeout=30), 415,
                 "multipart/form-data", "application/x-www-form-urlencoded")
    # not multipart at all
    assert_error(httpx.post(url, content=audio["song.wav"].read_bytes(),
                            headers={"content-type": "audio/wav"}, timeout=30), 415,
                 "multipart/form-data")
    # a body cut before its closing boundary
    body = b"".join(_stream(audio["song.wav"], "XyZ"))[:-30]
    assert_error(httpx.post(url, content=body, headers={
        "content-type": "multipart/form-data; boundary=XyZ"}, timeout=30), 400, "truncated")
    # over the size limit without a Content-Length: found while streaming
    assert_error(httpx.post(url, content=_stream(audio["big.wav"], "B0und"), headers={
        "content-type": "multipart/form-data; boundary=B0und"}, timeout=30), 413, "larger")
    # two files
    with audio["song.mp3"].open("rb") as one, audio["song.mp3"].open("rb") as two:
        assert_error(httpx.post(url, files=[("file", ("a.mp3", one)), ("file", ("b.mp3", two))],
                                timeout=30), 400, "one file per request")
    assert_error(post_file(server, audio["song.mp3"], params={"top": "eleven"}), 400, "top")
    # wrong methods and paths
    response = httpx.get(url, timeout=30)
    assert_error(response, 405, "GET", "POST")
    assert response.headers["allow"] == "POST"
    assert_error(httpx.put(url, content=b"x", timeout=30), 405, "PUT")
    assert_error(httpx.post(f"{server.url}/health", timeout=30), 405)
    assert_error(httpx.get(f"{server.url}/classify/song.mp3", timeout=30), 404, "POST /classify")
    assert server.uploads_left() == []
    assert httpx.get(f"{server.url}/health", timeout=30).status_code == 200


def _slow_upload(server: Server) -> socket.socket:
    """A request that sends its headers and the start of its file, then stalls."""
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    part = (b"--S\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.wav\"\r\n"
            b"\r\n" + b"\0" * 1000)
    connection.sendall(b"POST /classify HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       b"Content-Type: multipart/form-data; boundary=S\r\n"
                       b"Content-Length: 1000000\r\n\r\n" + part)
    return connection


def test_a_burst_is_bounded_and_the_server_goes_on(server, audio):
    reference = post_file(server, audio["song.mp3"]).json()
    # both places (1 classification + 1 queued) held by uploads that stall: the next is 503
    stalled = [_slow_upload(server) for _ in range(2)]
    try:
        deadline = time.monotonic() + 30
        while httpx.get(f"{server.url}/health", timeout=10).json()["work"]["admitted"] < 2:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert len(server.uploads_left()) == 2  # streaming to disk
        busy = post_file(server, audio["song.mp3"])
        assert_error(busy, 503, "busy")
        assert int(busy.headers["retry-after"]) >= 1
    finally:
        for connection in stalled:
            connection.close()  # the client goes away mid-upload
    deadline = time.monotonic() + 30
    while server.uploads_left() or httpx.get(f"{server.url}/health",
                                             timeout=10).json()["work"]["admitted"]:
        assert time.monotonic() < deadline, server.uploads_left()
        time.sleep(0.1)

    labels = server.labels
    # a burst of good and bad files at once: each answered as specified, or 503 to retry
    jobs = ["song.mp3", "words.wav", "song.wav", "silent.wav", "song.mp3", "empty.flac"] * 2
    answers: list[tuple[str, Any]] = []
    barrier = threading.Barrier(len(jobs))

    def send(name: str) -> None:
        barrier.wait()
        answers.append((name, post_file(server, audio[name])))

    threads = [threading.Thread(target=send, args=(name,)) for name in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert len(answers) == len(jobs)
    for name, response in answers:
        if response.status_code == 503:
            assert int(response.headers["retry-after"]) >= 1
            assert_error(response, 503, "busy")
        elif name.startswith("song"):
            assert response.status_code == 200, response.text
            if name == "song.mp3":
                np.testing.assert_allclose(
                    [response.json()["probabilities"][g] for g in labels],
                    [reference["probabilities"][g] for g in labels], rtol=0, atol=1e-6)
        else:
            assert response.status_code in (415, 422), response.text
    assert any(r.status_code == 503 for _, r in answers)
    assert post_file(server, audio["song.wav"]).status_code == 200
    assert server.uploads_left() == []


# --- the page in a browser -----------------------------------------------------------------

OTHER_LABELS = ["ambient", "baroque", "drill", "dub", "gospel", "grime", "house", "jungle",
                "kpop", "polka", "salsa", "ska", "techno", "trance", "zouk", "zydeco",
                "afrobeat", "bebop", "cumbia", "dubstep", "fado", "funk"]
# Shows an answer of OTHER_LABELS (label 3 on top, two clips) on the page; returns the bars
# drawn, their colours, the colours of the timeline's clip strip and the legend's entries.
OTHER_LABELS_ANSWER = """(() => {
  const labels = LABELS_JSON;
  const probabilities = Object.fromEntries(labels.map(
    (label, i) => [label, i === 3 ? 0.5 : 0.5 / (labels.length - 1)]));
  const best = [{genre: labels[3], probability: 0.5}];
  const clip = (k) => ({clip: k, start: 3 * k, end: 3 * k + 3, genre: labels[3],
                        probability: 0.5, probabilities, members: {m: labels[3]}});
  show({file: "other.wav", bytes: 1, seconds: 6, clips: 2, windows: 6, genre: labels[3],
        probability: 0.5, top: best, probabilities, clip_seconds: 3, elapsed_seconds: 0.1,
        members: {m: {weight: 1, genre: labels[3], probability: 0.5, top: best,
                      probabilities}},
        timeline: [clip(0), clip(1)],
        segments: [{start: 0, end: 6, genre: labels[3], clips: 2, probability: 0.5}]});
  const fills = (selector) => Array.from(document.querySelectorAll(selector))
    .map((node) => node.getAttribute("fill"));
  return [fills("#bars rect[data-genre]").length, fills("#bars rect[data-genre]"),
          fills("#timeline rect.clip-genre"), document.querySelectorAll("#legend span").length];
})()""".replace("LABELS_JSON", json.dumps(OTHER_LABELS))


@pytest.mark.skipif(find_chromium() is None,
                    reason="Chromium is not installed (Debian: apt-get install chromium); "
                           "CI installs it")
def test_the_page_classifies_a_file_in_headless_chromium(server, audio, tmp_path):
    expected = post_file(server, audio["song.mp3"]).json()
    browser = DevTools(find_chromium(), tmp_path / "profile", tmp_path / "chromium.log",
                       on_event=block_all_but_loopback)
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget",
                               {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network", "DOM"):
            browser.send(f"{domain}.enable", session=session)
        # the network is off for everything but this machine
        browser.send("Fetch.enable", {"patterns": [{"urlPattern": "*"}]}, session)
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": 1200, "height": 1400, "deviceScaleFactor": 1, "mobile": False},
                     session)
        browser.send("Page.navigate", {"url": f"{server.url}/"}, session)

        def evaluate(expression: str) -> Any:
            result = browser.send("Runtime.evaluate",
                                  {"expression": expression, "returnByValue": True}, session)
            return result["result"].get("value")

        def wait_for(expression: str, seconds: float = 60) -> Any:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                if value := evaluate(expression):
                    return value
                time.sleep(0.2)
            return None

        models = wait_for("document.getElementById('models') && "
                          "document.getElementById('models').textContent.startsWith('Ensemble')"
                          " && document.getElementById('models').textContent")
        root = browser.send("DOM.getDocument", session=session)["root"]["nodeId"]
        node = browser.send("DOM.querySelector", {"nodeId": root, "selector": "#file"},
                            session)["nodeId"]
        browser.send("DOM.setFileInputFiles", {"files": [str(audio["song.mp3"])],
                                               "nodeId": node}, session)
        state = wait_for("['done', 'error'].includes(document.body.dataset.state) && "
                         "document.body.dataset.state", 120)
        status = evaluate("document.getElementById('status').textContent")
        shown = evaluate("document.getElementById('top-genre').dataset.genre")
        bars = evaluate("document.querySelectorAll('#bars rect[data-genre]').length")
        strip = evaluate("Array.from(document.querySelectorAll('#timeline rect.clip-genre'))"
                         ".map(r => r.dataset.genre)")
        shot = browser.send("Page.captureScreenshot", {"format": "png"}, session)
        # the page draws whatever labels an answer names: an answer of 22 other labels
        other = evaluate(OTHER_LABELS_ANSWER)
        errors, requests = problems_in(browser.events)
    finally:
        browser.close()

    assert models and "commit" in models, models
    assert state == "done", status
    assert shown == expected["genre"]
    assert bars == len(server.labels)
    assert strip == [clip["genre"] for clip in expected["timeline"]]
    bars_drawn, bar_colours, strip_colours, legend = other
    assert bars_drawn == legend == len(OTHER_LABELS)
    assert len(set(bar_colours)) == len(OTHER_LABELS)
    assert strip_colours == ["#d62728", "#d62728"]  # label 3: tab10's fourth, as the plot's
    assert errors == []
    assert requests and all(is_loopback(url) for url in requests), requests
    assert {url.split("?")[0] for url in requests} <= {f"{server.url}/", f"{server.url}/health",
                                                       f"{server.url}/classify"}
    screenshot = tmp_path / "page.png"
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    from PIL import Image

    with Image.open(screenshot) as image:
        assert image.format == "PNG" and image.width == 1200
        assert len(image.convert("L").getcolors(1 << 16) or []) > 20  # not a blank page
    if target_dir := os.environ.get("SERVICE_SCREENSHOT_DIR"):
        shutil.copy(screenshot, Path(target_dir) / "service-page.png")
