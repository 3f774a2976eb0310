"""The ``serve`` command: ``genre-ensemble serve [--host 127.0.0.1] [--port 8000]`` loads the
trained members once (as ``predict`` loads them, Keras safe mode) and serves
:mod:`genre_ensemble.service` with uvicorn: ``GET /`` (a page to drop a song on), ``GET
/health`` and ``POST /classify``.

It binds 127.0.0.1 unless told otherwise: anyone who can reach the port can make the machine
decode files they send (see docs/service.md on exposing it). Nothing heavy is imported with
this module.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from genre_ensemble.core.paths import ENSEMBLE_METRICS, MODELS_DIR, PARAMS_FILE
from genre_ensemble.members.cnn.runtime import CPU_ALLOCATOR_VARIABLE

logger = logging.getLogger(__name__)

EXIT_NO_MODELS = 2
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` arguments (imports nothing heavy)."""
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help="address to bind (default: 127.0.0.1, this machine only; "
                             "0.0.0.0 exposes it to the network, see docs/service.md)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"TCP port (default: {DEFAULT_PORT})")
    parser.add_argument("--params", type=Path, default=PARAMS_FILE, metavar="PATH",
                        help="the params.yaml the models were trained with (default: "
                             "params.yaml); metrics/ and dvc.lock are read beside it")
    parser.add_argument("--models", type=Path, default=None, metavar="DIR",
                        help="folder with the trained members (default: models/ beside params)")
    parser.add_argument("--max-upload-mb", type=_positive_float, default=200.0, metavar="MB",
                        help="largest upload in MB of 10**6 bytes (default: 200)")
    parser.add_argument("--max-minutes", type=_positive_float, default=30.0, metavar="MIN",
                        help="longest audio in minutes (default: 30)")
    parser.add_argument("--max-concurrent", type=_positive_int, default=1, metavar="N",
                        help="files classified at once (default: 1)")
    parser.add_argument("--max-queue", type=_non_negative_int, default=8, metavar="N",
                        help="further requests admitted, uploading or waiting for a slot; "
                             "beyond them: 503 with Retry-After (default: 8)")
    parser.add_argument("--queue-wait", type=_positive_float, default=30.0, metavar="SECONDS",
                        help="longest wait for a slot before a 503 (default: 30)")
    parser.add_argument("--top", type=_positive_int, default=3, metavar="N",
                        help="genres in each top list of an answer (default: 3, at most the "
                             "models' labels; ?top=N per request)")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    """The ``serve`` command; returns the exit status (0 after a clean stop, 2 no models)."""
    from genre_ensemble.core.errors import ModelsUnavailableError
    from genre_ensemble.core.params import ParamsError
    from genre_ensemble.inference.loading import load_members
    from genre_ensemble.members.registry import load_params

    started = time.perf_counter()
    # TensorFlow's plain CPU allocator unless the environment chooses one: the pooling one that
    # training selects (runtime.pin_cpu_kernels) keeps the pool of the largest request (a
    # 10-minute file left the server ~180 MiB larger; with this one ~50 MiB). No result changes.
    os.environ.setdefault(CPU_ALLOCATOR_VARIABLE, "false")
    root = args.params.parent
    models_dir = args.models or root / MODELS_DIR
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        params = load_params(args.params)
        members = load_members(params, models_dir, root / ENSEMBLE_METRICS, root=root)
    except (ParamsError, ModelsUnavailableError) as error:
        sys.stderr.write(f"error: {error}\n")
        return EXIT_NO_MODELS

    import uvicorn
    from threadpoolctl import threadpool_limits

    from genre_ensemble.service.app import ServiceSettings, create_app
    from genre_ensemble.service.classifier import Classifier
    from genre_ensemble.service.health import model_info

    settings = ServiceSettings(
        max_upload_bytes=int(args.max_upload_mb * 1e6), max_seconds=args.max_minutes * 60,
        max_concurrent=args.max_concurrent, max_queue=args.max_queue,
        queue_wait=args.queue_wait, top=min(args.top, len(members.labels)))
    classifier = Classifier(members, params, max_seconds=settings.max_seconds)
    classifier.warm_up()
    # Audio work runs on one BLAS thread per file, as predict's workers run it (the CNNs have
    # TensorFlow's own threads); process-wide, so concurrent requests never race to set it.
    blas = threadpool_limits(limits=1)
    health = model_info(root, models_dir, members)
    logger.info("models loaded in %.1f s: %s (commit %s%s)", time.perf_counter() - started,
                ", ".join(f"{n} {w:.2f}" for n, w in members.weights.items()),
                (health["commit"] or "none")[:7],
                "" if health["models_match_lock"] else ", models differ from dvc.lock")
    if not _is_loopback(args.host):
        logger.warning("serving on %s: anyone who can reach this port can upload files to "
                       "classify; put it behind a reverse proxy with TLS and authentication "
                       "(docs/service.md)", args.host)
    # uvicorn stops gracefully on SIGINT / SIGTERM, then raises the signal again with the
    # handler it found: this one, so that the upload folder is still removed on the way out
    previous = signal.signal(signal.SIGTERM, _stopped)
    server = None
    try:
        with tempfile.TemporaryDirectory(prefix="genre-ensemble-uploads-") as upload_dir:
            app = create_app(classifier, settings, upload_dir=Path(upload_dir), health=health)
            logger.info("serving http://%s:%d/ (uploads up to %.0f MB and %g min, %d at a time, "
                        "%d more queued)", args.host, args.port,
                        settings.max_upload_bytes / 1e6, settings.max_seconds / 60,
                        settings.max_concurrent, settings.max_queue)
            config = uvicorn.Config(app, host=args.host, port=args.port, log_config=None,
                                    lifespan="off", server_header=False, timeout_keep_alive=5,
                                    timeout_graceful_shutdown=10)
            server = uvicorn.Server(config)
            server.run()
    except (StopSignalError, KeyboardInterrupt):
        logger.info("stopped")
    finally:
        signal.signal(signal.SIGTERM, previous)
        blas.restore_original_limits()
    return 0 if server is not None and server.started else 1


class StopSignalError(Exception):
    """SIGTERM after uvicorn's graceful shutdown."""


def _stopped(signum: int, frame: object) -> None:
    raise StopSignalError(signum)


def main(argv: list[str] | None = None) -> int:
    """``genre-ensemble serve`` without the other sub-commands (for tests and scripts)."""
    parser = argparse.ArgumentParser(prog="genre-ensemble serve")
    configure_parser(parser)
    return run(parser.parse_args(argv))
