"""Stream one uploaded file of a ``multipart/form-data`` request to a temporary file.

The body is parsed as it arrives (python-multipart's streaming parser), the file part written
straight to disk, never held in memory; a part over the size limit stops being written and
is deleted at once. The caller removes the file when done (:meth:`Upload.remove`, always, in a
``finally``). Every refusal is an :class:`UploadError` whose message is one sentence for the
user and whose status is the HTTP status to answer with.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from genre_ensemble.corpus.audio import AUDIO_EXTENSIONS

logger = logging.getLogger(__name__)

# The form field that holds the audio file.
FIELD = "file"
# Room for the multipart framing around the file (boundaries, part headers, small fields).
FRAMING_BYTES = 64 * 1024
# Text fields (anything but the file) may hold this much in all; their values are not used.
TEXT_BYTES = 16 * 1024
# Past the size limit, the rest of the body is read and dropped up to this many bytes, so that
# a client that sends the whole body first (browsers, httpx) still reads the 413; beyond it the
# connection is closed.
DRAIN_BYTES = 64 * 1024 * 1024
# Shown in a message about a text field, at most.
QUOTED = 60


class UploadError(Exception):
    """The upload cannot be used; ``status`` is the HTTP status, the message one sentence."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Upload:
    """An uploaded file on disk: its path, the name the client gave it and its size in bytes."""

    path: Path
    filename: str
    size: int

    def remove(self) -> None:
        """Delete the file (no error when it is already gone)."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTED else text[: QUOTED - 3] + "..."


def megabytes(size: int) -> str:
    """``size`` bytes as ``12.3 MB`` (10**6 bytes)."""
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e6:.2f} MB"


def suffix_for(filename: str) -> str:
    """The temporary file's suffix: the upload's own when it is an audio extension (some
    decoders go by it), else ``.upload``."""
    suffix = Path(filename).suffix.lower()
    return suffix if suffix in AUDIO_EXTENSIONS else ".upload"


def too_large(size_limit: int) -> UploadError:
    return UploadError(413, f"the file is larger than the {megabytes(size_limit)} this service "
                            "accepts (serve --max-upload-mb)")


class _Receiver:
    """Callbacks for python-multipart: the file part to disk, text fields counted."""

    def __init__(self, folder: Path, size_limit: int) -> None:
        self.folder = folder
        self.size_limit = size_limit
        self.upload: Upload | None = None
        self.handle: BinaryIO | None = None
        self.over_limit = False
        self.files = 0
        self.text_bytes = 0
        self.text_in_file_field: str | None = None
        self.fields: list[str] = []  # the names of the parts, in order
        self.other_bytes = 0  # bytes of files in other fields (read, dropped)
        self.ended = False
        self._name = b""
        self._value = b""
        self._disposition = b""
        self._part: str | None = None  # "file", "text-file-field", "other"
        self._text = bytearray()

    # python-multipart callbacks ---------------------------------------------------------
    def on_part_begin(self) -> None:
        self._disposition = b""
        self._part = None
        self._text = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        if self._name.lower() == b"content-disposition":
            self._disposition = self._value
        self._name, self._value = b"", b""

    def on_headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, options = parse_options_header(self._disposition)
        name = options.get(b"name", b"").decode("utf-8", "replace")
        self.fields.append(name)
        if name != FIELD:
            self._part = "other-file" if b"filename" in options else "other"
            return
        if b"filename" not in options:
            self._part = "text-file-field"
            return
        self.files += 1
        if self.files > 1:
            raise UploadError(400, f"the request holds {self.files} files in the "
                                   f"\"{FIELD}\" field: send one file per request")
        filename = options[b"filename"].decode("utf-8", "replace")
        if not filename or filename.endswith(("/", "\\")):
            raise UploadError(400, "no file was chosen: the \"file\" field holds no file name"
                              if not filename else
                              f"\"{_quote(filename)}\" is a folder name: upload one audio file "
                              "(curl -F file=@song.mp3 ...)")
        descriptor, name_on_disk = tempfile.mkstemp(prefix="upload-", suffix=suffix_for(filename),
                                                    dir=self.folder)
        self.handle = os.fdopen(descriptor, "wb")
        self.upload = Upload(Path(name_on_disk), Path(filename.replace("\\", "/")).name, 0)
        self._part = "file"

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._part == "file":
            assert self.upload is not None
            self.upload.size += end - start
            if self.upload.size > self.size_limit:
                self._drop_file()
            elif self.handle is not None:
                self.handle.write(data[start:end])
            return
        if self._part == "other-file":  # dropped; bounded like the file itself
            self.other_bytes += end - start
            if self.other_bytes > self.size_limit:
                raise too_large(self.size_limit)
            return
        self.text_bytes += end - start
        if self.text_bytes > TEXT_BYTES:
            raise UploadError(400, f"the form's text fields hold more than {TEXT_BYTES} bytes: "
                                   f"send only the \"{FIELD}\" field")
        if self._part == "text-file-field":
            self._text += data[start:end]

    def on_part_end(self) -> None:
        if self._part == "file" and self.handle is not None:
            self.handle.close()
            self.handle = None
        elif self._part == "text-file-field" and self.text_in_file_field is None:
            self.text_in_file_field = self._text.decode("utf-8", "replace")

    def on_end(self) -> None:
        self.ended = True

    # -------------------------------------------------------------------------------------
    def _drop_file(self) -> None:
        """Over the limit: stop writing and delete what was written."""
        if not self.over_limit:
            logger.info("upload %s passed %d bytes: dropped", self.upload, self.size_limit)
        self.over_limit = True
        self.close()

    def close(self) -> None:
        """Close and delete a file that will not be used (an error, or over the limit)."""
        if self.handle is not None:
            self.handle.close()
            self.handle = None
        if self.upload is not None:
            self.upload.remove()


def multipart_boundary(content_type: str | None) -> bytes:
    """The boundary of a ``multipart/form-data`` Content-Type.

    Raises
    ------
    UploadError
        415 when the request is not multipart/form-data, 400 without a boundary.
    """
    from python_multipart.multipart import parse_options_header

    kind, options = parse_options_header(content_type or "")
    if kind.lower() != b"multipart/form-data":
        shown = content_type.split(";")[0] if content_type else "no Content-Type"
        raise UploadError(415, f"send the audio as multipart/form-data with a \"{FIELD}\" field "
                               f"(curl -F file=@song.mp3 ...), not as {_quote(shown)}")
    boundary = options.get(b"boundary")
    if not boundary:
        raise UploadError(400, "the multipart/form-data request has no boundary")
    return boundary


async def receive_upload(request, *, folder: Path, size_limit: int) -> Upload:
    """Stream the request's ``file`` field to a new file in ``folder``.

    Parameters
    ----------
    request : starlette.requests.Request
    folder : Path
        Where the temporary file is made (the service's own upload folder).
    size_limit : int
        Largest file accepted, bytes.

    Returns
    -------
    Upload
        The caller must :meth:`Upload.remove` it.

    Raises
    ------
    UploadError
        415 not multipart; 400 malformed or truncated multipart, no ``file`` field, a text
        value (a path or a folder name) instead of a file, several files, no file chosen;
        413 over ``size_limit`` (said by Content-Length, then without reading the body, or
        found while streaming).
    """
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import MultipartParser

    boundary = multipart_boundary(request.headers.get("content-type"))
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > size_limit + FRAMING_BYTES:
        raise too_large(size_limit)
    receiver = _Receiver(folder, size_limit)
    callbacks = {name: getattr(receiver, name) for name in (
        "on_part_begin", "on_part_data", "on_part_end", "on_header_field", "on_header_value",
        "on_header_end", "on_headers_finished", "on_end")}
    parser = MultipartParser(boundary, callbacks)
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if receiver.over_limit:
                if received > size_limit + DRAIN_BYTES:
                    break  # stop reading: the server closes the connection after answering
                continue
            parser.write(chunk)
        if not receiver.over_limit:
            parser.finalize()
    except FormParserError as error:
        receiver.close()
        raise UploadError(400, "the body is not valid multipart/form-data") from error
    except BaseException:  # UploadError, ClientDisconnect, cancellation: no file is left
        receiver.close()
        raise
    if receiver.over_limit:
        receiver.close()
        raise too_large(size_limit)
    if not receiver.ended:
        receiver.close()
        raise UploadError(400, "the upload ended before its closing boundary (a truncated "
                               "request)")
    if receiver.upload is None:
        if receiver.text_in_file_field is not None:
            raise UploadError(400, f"the \"{FIELD}\" field holds the text "
                                   f"\"{_quote(receiver.text_in_file_field)}\", not a file: a "
                                   "path or folder name cannot be classified, upload the file "
                                   "itself (curl -F file=@song.mp3 ...)")
        names = ", ".join(f"\"{_quote(name)}\"" for name in dict.fromkeys(receiver.fields))
        raise UploadError(400, f"the request has no \"{FIELD}\" field"
                               + (f" (only {names})" if names else "")
                               + f": send the audio as multipart/form-data field \"{FIELD}\" "
                               "(curl -F file=@song.mp3 ...)")
    return receiver.upload
