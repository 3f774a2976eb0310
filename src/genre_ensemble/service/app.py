"""The service's ASGI application (Starlette): ``GET /``, ``GET /health``, ``POST /classify``.

Every answer is JSON except the page; every error is ``{"error": "<one sentence>", "status":
<code>}`` with a 4xx status (503 with ``Retry-After`` when busy), never a traceback: an
unexpected failure is logged with its traceback and answered 500 with one sentence, and the
server goes on. An upload streams to a temporary file in the service's own folder that is
removed when the request ends, whatever happens (see :mod:`genre_ensemble.service.uploads`);
the work on the models is bounded by :class:`genre_ensemble.service.limits.WorkLimiter`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from genre_ensemble.inference.classify import Prediction
from genre_ensemble.inference.timeline import segment_records, timeline_records
from genre_ensemble.service.classifier import Classifier, ClassifyError
from genre_ensemble.service.limits import BusyError, WorkLimiter
from genre_ensemble.service.uploads import UploadError, receive_upload

logger = logging.getLogger(__name__)

PAGE = "page.html"
# The page may load nothing but itself and talk to nothing but this server.
PAGE_POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
               "img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'")
# One sentence per status Starlette raises itself.
HTTP_SENTENCES = {
    404: "no such page: the service answers GET /, GET /health and POST /classify",
    405: "method not allowed here",
}


@dataclass(frozen=True)
class ServiceSettings:
    """The service's limits (``genre-ensemble serve`` options; not pipeline params).

    Attributes
    ----------
    max_upload_bytes : int
        Largest upload, bytes (``--max-upload-mb``, default 200 MB).
    max_seconds : float
        Longest audio, seconds (``--max-minutes``, default 30 min).
    max_concurrent : int
        Classifications at once (``--max-concurrent``).
    max_queue : int
        Requests admitted beyond those, uploading or waiting (``--max-queue``).
    queue_wait : float
        Longest wait for a classification slot, seconds (``--queue-wait``).
    top : int
        Labels in each ``top`` list unless the request says ``?top=N``.
    """

    max_upload_bytes: int = 200_000_000
    max_seconds: float = 1800.0
    max_concurrent: int = 1
    max_queue: int = 8
    queue_wait: float = 30.0
    top: int = 3


def error_response(status: int, message: str, headers: dict[str, str] | None = None
                   ) -> JSONResponse:
    """``{"error": message, "status": status}``."""
    return JSONResponse({"error": message, "status": status}, status_code=status,
                        headers=headers)


def _top_list(probabilities: Any, labels: tuple[str, ...], count: int) -> list[dict[str, Any]]:
    import numpy as np

    order = np.argsort(-probabilities, kind="stable")[:count]
    return [{"genre": labels[i], "probability": float(probabilities[i])} for i in order]


def prediction_document(prediction: Prediction, *, top: int) -> dict[str, Any]:
    """The JSON answer for one classified file (probabilities as computed, not rounded).

    Keys: ``seconds``, ``clips``, ``windows``, ``genre`` and ``probability`` (the ensemble's
    top label), ``top`` (``top`` best labels), ``probabilities`` (every label of
    ``prediction.labels``, in that order), ``members`` (per member: ``weight``, ``genre``,
    ``probability``, ``top``, ``probabilities``), ``timeline`` (one row per clip,
    :func:`genre_ensemble.inference.timeline.timeline_records`) and ``segments`` (stretches of
    one top label).
    """
    labels = prediction.labels

    def describe(probabilities: Any) -> dict[str, Any]:
        best = _top_list(probabilities, labels, top)
        return {"genre": best[0]["genre"], "probability": best[0]["probability"], "top": best,
                "probabilities": {g: float(p) for g, p in zip(labels, probabilities,
                                                              strict=True)}}

    return {
        "seconds": prediction.seconds,
        "clips": prediction.clips,
        "windows": prediction.windows,
        **describe(prediction.ensemble),
        "members": {name: {"weight": prediction.weights[name], **describe(vector)}
                    for name, vector in prediction.members.items()},
        "timeline": timeline_records(prediction, digits=None),
        "segments": segment_records(prediction),
    }


def _requested_top(request: Request, default: int, labels: int) -> int:
    text = request.query_params.get("top")
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= labels:
        raise UploadError(400, f"top must be a whole number from 1 to {labels}, "
                               f"got \"{text[:20]}\"")
    return int(text)


def create_app(classifier: Classifier, settings: ServiceSettings, *, upload_dir: Path,
               health: dict[str, Any]) -> Starlette:
    """The application.

    Parameters
    ----------
    classifier : Classifier
        The members, loaded once, and the duration limit.
    settings : ServiceSettings
    upload_dir : Path
        An existing folder for the uploads' temporary files (the service's own).
    health : dict
        The models' provenance and metrics (:func:`genre_ensemble.service.health.model_info`).
    """
    limiter = WorkLimiter(concurrent=settings.max_concurrent, queue=settings.max_queue,
                          wait_seconds=settings.queue_wait)
    page = (files("genre_ensemble.service") / PAGE).read_text(encoding="utf-8")
    params = classifier.params
    labels = classifier.members.labels
    started = time.time()

    async def index(request: Request) -> Response:
        return HTMLResponse(page, headers={"Content-Security-Policy": PAGE_POLICY,
                                           "Cache-Control": "no-store"})

    async def health_check(request: Request) -> Response:
        return JSONResponse({
            "status": "ok",
            "models_loaded": True,
            **health,
            "clip_seconds": params.data.clip_seconds,
            "sample_rate": params.data.sample_rate,
            "genres": list(labels),
            "limits": {"max_upload_bytes": settings.max_upload_bytes,
                       "max_seconds": settings.max_seconds,
                       "max_concurrent": settings.max_concurrent,
                       "max_queue": settings.max_queue,
                       "queue_wait_seconds": settings.queue_wait},
            "work": limiter.state(),
            "uptime_seconds": round(time.time() - started, 1),
        })

    async def classify(request: Request) -> Response:
        began = time.perf_counter()
        try:
            top = _requested_top(request, settings.top, len(labels))
            with limiter.admit():
                upload = await receive_upload(request, folder=upload_dir,
                                              size_limit=settings.max_upload_bytes)
                try:
                    async with limiter.slot():
                        prediction = await run_in_threadpool(classifier.classify, upload.path)
                finally:
                    upload.remove()
        except (UploadError, ClassifyError) as error:
            logger.info("refused (%d): %s", error.status, error)
            # 413 may come before the body was read: close rather than read the rest
            headers = {"Connection": "close"} if error.status == 413 else None
            return error_response(error.status, str(error), headers)
        except BusyError as error:
            logger.info("busy: %s", error)
            return error_response(503, str(error), {"Retry-After": str(error.retry_after),
                                                    "Connection": "close"})
        except ClientDisconnect:
            logger.info("the client went away during its upload")
            return error_response(400, "the client went away before the upload ended")
        document = {"file": upload.filename, "bytes": upload.size,
                    **prediction_document(prediction, top=top),
                    "clip_seconds": params.data.clip_seconds,
                    "elapsed_seconds": round(time.perf_counter() - began, 3)}
        logger.info("%s (%.1f s, %d clips): %s %.1f%% in %.2f s", upload.filename,
                    prediction.seconds, prediction.clips, document["genre"],
                    100 * document["probability"], document["elapsed_seconds"])
        return JSONResponse(document)

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        message = HTTP_SENTENCES.get(error.status_code, error.detail)
        if error.status_code == 405:
            allowed = (error.headers or {}).get("Allow", "")
            message = (f"{request.method} is not allowed on {request.url.path}: use "
                       f"{allowed or 'another method'}")
        return error_response(error.status_code, message, dict(error.headers or {}))

    async def unexpected(request: Request, error: Exception) -> Response:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "the service failed on this request (its log has the "
                                   "details); it goes on serving")

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/health", health_check, methods=["GET"]),
        Route("/classify", classify, methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error,
                                                       Exception: unexpected})
    app.state.limiter = limiter
    app.state.settings = asdict(settings)
    return app
