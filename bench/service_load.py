"""The service (`genre-ensemble serve`) under load, as a client sees it over loopback HTTP.

Starts the server as a process with the default models (the repository's own completed run
when it has one, else the bench workspace of :func:`bench.common.pipeline_workspace`) and its
default limits, then measures:

- start: seconds from launching ``serve`` to ``/health`` answering, and to the first answered
  ``POST /classify`` of a 30 s clip;
- latency per 30 s clip (median, 95th percentile, over ``--requests`` requests) one at a time
  and ``--parallel`` at a time, and the requests per minute that sustains;
- the timeline of a 10-minute file (20 synthetic 30 s clips, two of each genre, back to back)
  through the service and through ``predict --timeline --timeline-plot``: time, memory, and
  how often each clip's top genre is the genre it was made as (the synthetic corpus's genres:
  GTZAN's ten, the models' labels when they were trained on it);
- a load run of ``--load`` requests mixing good files (30 s WAV and MP3) and bad ones (not
  audio, empty, truncated WAV and MP3, silent, too long, too large, no file field, a folder
  name, a wrong method), ``--load-clients`` clients at once: every answer must be the status
  specified (503 only with Retry-After, then retried); the server's RSS before, at its peak and
  after (it must come back near its idle level).

The server's RSS is sampled every 50 ms (psutil). Example::

    python -m bench.service_load                          # about 5 minutes on 2 cores
    python -m bench.service_load --requests 20 --load 60  # a quick look
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.common import (
    REPO,
    completed_run,
    median,
    pipeline_workspace,
    program,
    table,
    workspace_settings,
    write_results,
)

logger = logging.getLogger("bench.service_load")

SR = 22050
GENRE_CLIPS = 20  # the 10-minute file: 20 clips of 30 s, two of each genre
SAMPLE_SECONDS = 0.05


def env() -> dict[str, str]:
    """This checkout's code (the editable install), quiet TensorFlow."""
    variables = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    variables.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return variables


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return float(statistics.quantiles(ordered, n=100, method="inclusive")[int(q) - 1])


class Sampler:
    """RSS of a process every :data:`SAMPLE_SECONDS` on a thread; peaks per phase."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.process = psutil.Process(pid)
        self.phase = "start"
        self.peaks: dict[str, int] = {}
        self.last = 0
        self.history: list[tuple[float, int]] = []  # (seconds since start, RSS) every second
        self._started = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = self.process.memory_info().rss
            except Exception:  # the process ended
                return
            self.last = rss
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0), rss)
            now = time.perf_counter() - self._started
            if not self.history or now - self.history[-1][0] >= 1.0:
                self.history.append((now, rss))
            time.sleep(SAMPLE_SECONDS)

    def enter(self, phase: str) -> None:
        self.phase = phase
        self.peaks[phase] = self.last

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def mib(size: int) -> float:
    return round(size / 2**20, 1)


# --- audio -----------------------------------------------------------------------------------


def make_audio(folder: Path, count: int) -> dict[str, Path]:
    """30 s clips (WAV and MP3), the 10-minute file and the bad files."""
    import numpy as np
    import soundfile

    from genre_ensemble.core.labels import GTZAN_GENRES as GENRES  # the synthetic corpus's
    from genre_ensemble.corpus.synthetic import synthesize_clip

    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for number in range(count):
        genre = GENRES[number % len(GENRES)]
        signal = 0.8 * synthesize_clip(genre, 500 + number, seconds=30.0, sr=SR)
        suffix = "mp3" if number % 2 else "wav"
        files[f"clip{number:02d}.{suffix}"] = path = folder / f"{genre}.{number:02d}.{suffix}"
        if suffix == "mp3":
            soundfile.write(str(path), signal, SR, format="MP3")
        else:
            soundfile.write(str(path), signal, SR, subtype="PCM_16")
    parts = [0.8 * synthesize_clip(GENRES[k % len(GENRES)], 700 + k, seconds=30.0, sr=SR)
             for k in range(GENRE_CLIPS)]
    files["ten-minutes.wav"] = folder / "ten-minutes.wav"
    soundfile.write(str(files["ten-minutes.wav"]), np.concatenate(parts), SR, subtype="PCM_16")

    wav, mp3 = (folder / next(n for n in os.listdir(folder) if n.endswith(s))
                for s in (".wav", ".mp3"))
    files["truncated.wav"] = folder / "truncated.wav"
    files["truncated.wav"].write_bytes(wav.read_bytes()[: wav.stat().st_size // 3])
    files["truncated.mp3"] = folder / "truncated.mp3"
    files["truncated.mp3"].write_bytes(mp3.read_bytes()[: mp3.stat().st_size // 3])
    files["words.wav"] = folder / "words.wav"
    files["words.wav"].write_text("these are words, not samples\n" * 50)
    files["noise.mp3"] = folder / "noise.mp3"
    files["noise.mp3"].write_bytes(np.random.default_rng(0).bytes(50_000))
    files["empty.wav"] = folder / "empty.wav"
    files["empty.wav"].write_bytes(b"")
    files["silent.wav"] = folder / "silent.wav"
    soundfile.write(str(files["silent.wav"]), np.zeros(10 * SR, np.float32), SR)
    # 31 minutes, over the default 30: 8 kHz 8-bit WAV, 15 MB (refused from its header)
    files["too-long.wav"] = folder / "too-long.wav"
    t = np.arange(31 * 60 * 8000) / 8000
    soundfile.write(str(files["too-long.wav"]), (0.3 * np.sin(2 * np.pi * 220 * t)), 8000,
                    subtype="PCM_U8")
    # 201 MB, over the default 200 MB (its Content-Length says so: refused unread)
    files["too-large.wav"] = folder / "too-large.wav"
    with files["too-large.wav"].open("wb") as handle:
        handle.truncate(201_000_000)
    return files


# --- requests --------------------------------------------------------------------------------


@dataclass
class Answer:
    kind: str
    status: int
    seconds: float
    server_seconds: float | None = None
    retries: int = 0
    ok: bool = True
    note: str = ""


# what each kind of request must get
EXPECTED = {"good": 200, "words": 415, "noise": 415, "empty": 422, "truncated-wav": 422,
            "truncated-mp3": 422, "silent": 422, "too-long": 413, "too-large": 413,
            "no-field": 400, "folder-name": 400, "wrong-method": 405}


def send(client, url: str, kind: str, path: Path | None, *, retry: bool) -> Answer:
    """One request of ``kind``; on 503 (with Retry-After) wait and send it again."""
    retries = 0
    while True:
        started = time.perf_counter()
        if kind == "wrong-method":
            response = client.get(f"{url}/classify")
        elif kind == "no-field":
            response = client.post(f"{url}/classify", files={"song": (None, "x")})
        elif kind == "folder-name":
            response = client.post(f"{url}/classify", files={"file": (None, "music/")})
        else:
            assert path is not None
            with path.open("rb") as handle:
                response = client.post(f"{url}/classify", files={"file": (path.name, handle)})
        seconds = time.perf_counter() - started
        if response.status_code == 503 and retry:
            wait = response.headers.get("retry-after")
            if wait is None or not wait.isdigit():
                return Answer(kind, 503, seconds, ok=False, note="503 without Retry-After")
            retries += 1
            time.sleep(min(int(wait), 5))
            continue
        body = response.json()
        answer = Answer(kind, response.status_code, seconds, body.get("elapsed_seconds"),
                        retries)
        if response.status_code != EXPECTED[kind]:
            answer.ok, answer.note = False, f"expected {EXPECTED[kind]}: {response.text[:200]}"
        elif response.status_code != 200 and (not isinstance(body.get("error"), str)
                                              or "\n" in body["error"]):
            answer.ok, answer.note = False, f"not a one-sentence error: {response.text[:200]}"
        return answer


def run_requests(url: str, jobs: list[tuple[str, Path | None]], clients: int,
                 *, retry: bool = True) -> tuple[list[Answer], float]:
    """Send ``jobs`` with ``clients`` threads, each taking the next job; (answers, wall s)."""
    import httpx

    answers: list[Answer] = []
    lock = threading.Lock()
    queue = list(reversed(jobs))

    def work() -> None:
        with httpx.Client(timeout=600) as client:
            while True:
                with lock:
                    if not queue:
                        return
                    kind, path = queue.pop()
                answer = send(client, url, kind, path, retry=retry)
                with lock:
                    answers.append(answer)

    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers, time.perf_counter() - started


def latency(answers: list[Answer], wall: float) -> dict:
    seconds = [a.seconds for a in answers]
    return {"requests": len(answers), "median_seconds": round(median(seconds), 3),
            "p95_seconds": round(percentile(seconds, 95), 3),
            "max_seconds": round(max(seconds), 3),
            "server_median_seconds": round(median(a.server_seconds for a in answers
                                                  if a.server_seconds is not None), 3),
            "requests_per_minute": round(60 * len(answers) / wall, 1),
            "wall_seconds": round(wall, 1), "all_ok": all(a.ok for a in answers),
            "load_average_1m_after": round(os.getloadavg()[0], 2)}


# --- the phases ------------------------------------------------------------------------------


def start_server(workspace: Path, port: int, tmp: Path, log: Path, *extra: str):
    import httpx

    command = [sys.executable, "-m", "genre_ensemble.cli", "serve", "--port", str(port),
               "--params", str(workspace / "params.yaml"), *extra]
    started = time.perf_counter()
    with log.open("w") as handle:
        process = subprocess.Popen(command, cwd=workspace, env={**env(), "TMPDIR": str(tmp)},
                                   stdout=handle, stderr=subprocess.STDOUT)
    sampler = Sampler(process.pid)
    url = f"http://127.0.0.1:{port}"
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    return process, sampler, url, time.perf_counter() - started, started


def timeline_cli(workspace: Path, path: Path, folder: Path) -> dict:
    """``predict --timeline --timeline-plot`` on the 10-minute file: wall, peak RSS."""
    import psutil

    command = [sys.executable, "-m", "genre_ensemble.cli", "predict", str(path), "--params",
               str(workspace / "params.yaml"), "--timeline", str(folder / "timeline.csv"),
               "--timeline-plot", str(folder / "timeline.png")]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=workspace, env=env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    watched = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        with contextlib.suppress(psutil.Error):
            peak = max(peak, sum(p.memory_info().rss for p in
                                 [watched, *watched.children(recursive=True)]))
        time.sleep(SAMPLE_SECONDS)
    out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"predict failed: {err[-2000:]}")
    shown = " ".join(["genre-ensemble", *command[3:]])
    return {"command": shown.replace(str(folder), "TMP").replace(f"{REPO}/", ""),
            "wall_seconds": round(time.perf_counter() - started, 2),
            "peak_rss_mib": mib(peak), "terminal_lines": out.splitlines()}


def clip_agreement(answer: dict) -> dict:
    """How often a clip's top genre is the genre it was made as (30 s clips, 10 s params)."""
    from genre_ensemble.core.labels import GTZAN_GENRES as GENRES  # as make_audio made them

    right = 0
    for clip in answer["timeline"]:
        made_as = GENRES[int(clip["start"] // 30) % len(GENRES)]
        right += clip["genre"] == made_as
    return {"clips": len(answer["timeline"]), "clips_right": right,
            "file_answer": [(t["genre"], round(t["probability"], 3)) for t in answer["top"]],
            "segments": len(answer["segments"])}


def load_jobs(files: dict[str, Path], clips: list[Path], count: int) -> list[tuple[str, Path]]:
    """``count`` requests: 60 % good clips, the rest cycling through the bad kinds."""
    bad = [("words", files["words.wav"]), ("noise", files["noise.mp3"]),
           ("empty", files["empty.wav"]), ("truncated-wav", files["truncated.wav"]),
           ("truncated-mp3", files["truncated.mp3"]), ("silent", files["silent.wav"]),
           ("too-long", files["too-long.wav"]), ("no-field", None), ("folder-name", None),
           ("wrong-method", None), ("too-large", files["too-large.wav"])]
    jobs = []
    for number in range(count):
        if number % 5 < 3:
            jobs.append(("good", clips[number % len(clips)]))
        else:
            jobs.append(bad[(number // 5 * 2 + number % 5 - 3) % len(bad)])
    return jobs


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    parser = argparse.ArgumentParser(prog=program(), description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=None,
                        help="a folder with params.yaml, models/ and metrics/ of a finished run "
                             "(default: the repository when it has one, else the bench's)")
    parser.add_argument("--requests", type=int, default=60,
                        help="requests per latency measure (default: 60)")
    parser.add_argument("--parallel", type=int, default=4, help="clients at once (default: 4)")
    parser.add_argument("--load", type=int, default=300,
                        help="requests of the mixed load run (default: 300)")
    parser.add_argument("--load-clients", type=int, default=12,
                        help="clients at once in the load run (default: 12: more than the "
                             "default 1 + 8 places, so some get 503 and retry)")
    parser.add_argument("--clips", type=int, default=20, help="distinct 30 s clips (default 20)")
    parser.add_argument("--serve-args", default="",
                        help="extra serve options, e.g. '--max-concurrent 2'")
    args = parser.parse_args()

    if args.workspace is not None:
        workspace, source = args.workspace.resolve(), "given"
    elif completed_run(REPO):
        workspace, source = REPO, "repository run"
    else:
        workspace, info = pipeline_workspace(log=logger.info)
        source = info["source"]
    results: dict = {"workspace": {"source": source, **workspace_settings(workspace)},
                     "settings": {"requests": args.requests, "parallel": args.parallel,
                                  "load": args.load, "load_clients": args.load_clients,
                                  "clips": args.clips, "serve_args": args.serve_args}}
    with tempfile.TemporaryDirectory(prefix="service-bench-") as scratch:
        folder = Path(scratch)
        logger.info("writing the audio")
        files = make_audio(folder / "audio", args.clips)
        clips = [files[name] for name in sorted(files) if name.startswith("clip")]
        tmp = folder / "tmp"
        tmp.mkdir()
        log = folder / "serve.log"
        extra = args.serve_args.split()
        port = free_port()
        load_before = os.getloadavg()[0]
        process, sampler, url, ready, launched = start_server(workspace, port, tmp, log, *extra)
        try:
            first, _ = run_requests(url, [("good", clips[0])], 1)
            results["start"] = {"to_health_seconds": round(ready, 2),
                                "to_first_answer_seconds": round(time.perf_counter() - launched,
                                                                 2),
                                "first_request_seconds": round(first[0].seconds, 3),
                                "load_average_1m_before": round(load_before, 2)}
            logger.info("start: %s", results["start"])
            time.sleep(2)
            idle = sampler.last
            results["memory"] = {"idle_after_first_request_mib": mib(idle)}

            sampler.enter("one at a time")
            jobs = [("good", clips[k % len(clips)]) for k in range(args.requests)]
            answers, wall = run_requests(url, jobs, 1)
            results["one_at_a_time"] = latency(answers, wall)
            logger.info("one at a time: %s", results["one_at_a_time"])

            sampler.enter(f"{args.parallel} at a time")
            answers, wall = run_requests(url, jobs, args.parallel)
            results[f"{args.parallel}_at_a_time"] = latency(answers, wall)
            logger.info("%d at a time: %s", args.parallel, results[f"{args.parallel}_at_a_time"])

            import httpx

            sampler.enter("ten-minute file")
            before = sampler.last
            started = time.perf_counter()
            with files["ten-minutes.wav"].open("rb") as handle:
                response = httpx.post(f"{url}/classify", timeout=600,
                                      files={"file": ("ten-minutes.wav", handle)})
            response.raise_for_status()
            results["ten_minute_file"] = {
                "bytes": files["ten-minutes.wav"].stat().st_size,
                "service_seconds": round(time.perf_counter() - started, 2),
                "server_rss_before_mib": mib(before),
                "server_peak_rss_mib": mib(sampler.peaks["ten-minute file"]),
                **clip_agreement(response.json())}
            logger.info("ten-minute file: %s", results["ten_minute_file"])

            sampler.enter("load run")
            load_started = time.perf_counter() - sampler._started
            jobs = load_jobs(files, clips, args.load)
            answers, wall = run_requests(url, jobs, args.load_clients)
            time.sleep(5)
            after = sampler.last
            during = [(round(t - load_started), mib(rss)) for t, rss in sampler.history
                      if t >= load_started]
            kinds = Counter(a.kind for a in answers)
            results["load_run"] = {
                "requests": len(answers), "clients": args.load_clients,
                "wall_seconds": round(wall, 1),
                "requests_per_minute": round(60 * len(answers) / wall, 1),
                "answered_as_specified": sum(a.ok for a in answers),
                "not_as_specified": [f"{a.kind}: {a.note}" for a in answers if not a.ok][:20],
                "by_kind": {kind: {"count": count, "status": EXPECTED[kind]}
                            for kind, count in sorted(kinds.items())},
                "statuses": dict(sorted(Counter(str(a.status) for a in answers).items())),
                "retried_after_503": sum(a.retries for a in answers),
                "good_median_seconds": round(median(a.seconds for a in answers
                                                    if a.kind == "good"), 3),
                "load_average_1m_after": round(os.getloadavg()[0], 2)}
            results["memory"].update({
                "peak_mib": mib(max(sampler.peaks.values())),
                "peak_by_phase_mib": {phase: mib(v) for phase, v in sampler.peaks.items()},
                "after_load_run_mib": mib(after),
                "after_over_idle": round(after / idle, 3),
                "load_run_every_10_s_mib": during[::10]})
            uploads_left = list(tmp.glob("genre-ensemble-uploads-*/*"))
            results["load_run"]["uploads_left_on_disk"] = len(uploads_left)
            health = httpx.get(f"{url}/health", timeout=10).json()
            results["load_run"]["server_work_counters"] = health["work"]
            logger.info("load run: %s", results["load_run"])
            logger.info("memory: %s", results["memory"])
        finally:
            sampler.stop()
            process.terminate()
            process.wait(timeout=60)
        results["server_exit_status"] = process.returncode
        results["upload_folder_removed"] = not list(tmp.glob("genre-ensemble-uploads-*"))
        results["traceback_in_log"] = "Traceback" in log.read_text()
        logger.info("predict --timeline on the ten-minute file")
        results["ten_minute_file"]["predict_timeline"] = timeline_cli(workspace,
                                                                      files["ten-minutes.wav"],
                                                                      folder)
    path = write_results("service_load" + ("" if not extra else "_" + "_".join(
        a.strip("-") for a in extra)), results)
    parallel = results[f"{args.parallel}_at_a_time"]
    print(table([
        ["one at a time", results["one_at_a_time"]["median_seconds"],
         results["one_at_a_time"]["p95_seconds"], results["one_at_a_time"]["requests_per_minute"]],
        [f"{args.parallel} at a time", parallel["median_seconds"], parallel["p95_seconds"],
         parallel["requests_per_minute"]],
    ], ["30 s clips", "median s", "p95 s", "requests/min"]))
    start, memory, load = results["start"], results["memory"], results["load_run"]
    print(f"start to /health {start['to_health_seconds']} s, to first answer "
          f"{start['to_first_answer_seconds']} s; peak RSS {memory['peak_mib']} MiB, idle "
          f"{memory['idle_after_first_request_mib']} MiB, after the load run "
          f"{memory['after_load_run_mib']} MiB")
    print(f"load run: {load['answered_as_specified']}/{load['requests']} answered as "
          f"specified; written {path}")


if __name__ == "__main__":
    main()
