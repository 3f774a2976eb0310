"""Headless Chromium for the page tests (the report's and the service's), stdlib only.

:class:`DevTools` drives Debian's Chromium over ``--remote-debugging-pipe``; :func:`problems_in`
sorts the events a page produced into console errors and requests. Chromium starts with a dead
proxy (``--proxy-server=http://127.0.0.1:9``; loopback addresses bypass proxies), so nothing
can reach another machine even before a test switches the network off; a test that needs to
talk to a server on 127.0.0.1 uses :func:`block_all_but_loopback` instead of Chromium's offline
mode, which would cut loopback too.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    return None


# Chromium's pipe protocol reads commands on fd 3 and writes replies on fd 4: move the pipe
# ends there (duplicating both first, so neither is overwritten), then become Chromium.
PIPE_LAUNCHER = """
import os, sys
commands, replies = os.dup(int(sys.argv[1])), os.dup(int(sys.argv[2]))
os.dup2(commands, 3)
os.dup2(replies, 4)
os.set_inheritable(3, True)
os.set_inheritable(4, True)
os.execv(sys.argv[3], sys.argv[3:])
"""


class DevTools:
    """A minimal Chrome DevTools Protocol client over ``--remote-debugging-pipe`` (stdlib only).

    ``on_event(devtools, event)``, when given, sees every event as it arrives (on the reader
    thread: it may :meth:`post` a command, never :meth:`send` one).
    """

    def __init__(self, binary: str, profile: Path, log: Path,
                 on_event: Callable[[DevTools, dict[str, Any]], None] | None = None) -> None:
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-extensions", "--disable-default-apps", "--hide-scrollbars",
                 "--proxy-server=http://127.0.0.1:9", f"--user-data-dir={profile}",
                 "--remote-debugging-pipe", "about:blank"]
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-c", PIPE_LAUNCHER, str(to_browser_read), str(from_browser_write),
             binary, *flags],
            pass_fds=(to_browser_read, from_browser_write),
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self.events: list[dict[str, Any]] = []
        self._replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self._ids = itertools.count(1)
        self._write_lock = threading.Lock()
        self._on_event = on_event
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        while chunk := os.read(self._from_browser, 1 << 16):
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for message in messages:
                payload = json.loads(message)
                if "id" in payload:
                    self._replies.put(payload)
                    continue
                self.events.append(payload)
                if self._on_event is not None:
                    self._on_event(self, payload)

    def post(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None) -> int:
        """Send a command without waiting for its reply; returns its id."""
        command_id = next(self._ids)
        message: dict[str, Any] = {"id": command_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        with self._write_lock:
            os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        return command_id

    def send(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None, timeout: float = 30) -> dict[str, Any]:
        command_id = self.post(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            reply = self._replies.get(timeout=max(0.1, deadline - time.monotonic()))
            if reply["id"] == command_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.send("Browser.close", timeout=5)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        self._log.close()


def is_loopback(url: str) -> bool:
    """Whether an http(s) or ws URL names this machine (127.0.0.1, localhost, ::1)."""
    return urlsplit(url).hostname in {host.strip("[]") for host in LOOPBACK_HOSTS}


def block_all_but_loopback(devtools: DevTools, event: dict[str, Any]) -> None:
    """``on_event`` handler: with ``Fetch.enable`` on every request, let requests to this
    machine through and fail every other one (the network is off but for loopback)."""
    if event.get("method") != "Fetch.requestPaused":
        return
    params = event["params"]
    if is_loopback(params["request"]["url"]):
        devtools.post("Fetch.continueRequest", {"requestId": params["requestId"]},
                      event.get("sessionId"))
    else:
        devtools.post("Fetch.failRequest", {"requestId": params["requestId"],
                                            "errorReason": "InternetDisconnected"},
                      event.get("sessionId"))


def problems_in(events: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(console errors and exceptions, URLs requested outside the file)."""
    errors, requests = [], []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            errors.append(" ".join(str(a.get("value", a.get("description"))) for a in
                                   params["args"]))
        elif method == "Runtime.exceptionThrown":
            errors.append(params["exceptionDetails"].get("text", "exception"))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            errors.append(params["entry"]["text"])
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if not url.startswith(("file:", "data:", "about:")):
                requests.append(url)
    return errors, requests
