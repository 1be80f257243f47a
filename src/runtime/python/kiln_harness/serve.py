"""HTTP serve mode: one App served in fal's sync shape, the entrypoint of the container that
`kiln export` builds (Kubernetes, Knative). Standard library only.

    python -m kiln_harness.serve --port $PORT [--app-file FILE] [--class NAME] [--health-endpoint PATH]

    POST /{path}        the endpoint at {path}: its output, or {"detail": ...} with fal's status
                        (422 input, 404 no such endpoint, 500, 503 GPU fault, AppException's own)
    POST (any path) with x-fal-target-url: @fal-ai/client's proxy mode; the endpoint is the
                        target's path after owner/app (https://fal.run/owner/app/generate -> /generate)
    GET  /health        readiness: 503 while setup() runs and while draining; then the app's
                        health endpoint's answer when it has one (--health-endpoint), else 200
    GET  /files/{name}  what the app saved with save_image/save_file (KILN_FILES_DIR)

The app instance, its routes, handler calls and results are the pipe worker's own
(served_app.py, results.py); only the transport is here.

Transport: one asyncio event loop in the main thread owns every connection and parses HTTP/1.1
itself (keep-alive, Content-Length and chunked bodies, Expect: 100-continue). It never runs the
app's code: sync handlers run on KILN_MAX_MULTIPLEXING threads, async handlers on the app's own
event loop thread, as in the pipe worker. So a connection costs no thread, a handler that blocks
cannot stall health checks, and http.server's per-connection threads and header parsing (the
slow part of a no-op request) are avoided.

Concurrency: at most KILN_MAX_MULTIPLEXING requests run at once. Past that, requests wait in
arrival order, as they do on fal and in Knative's queue-proxy (which already holds a pod's
requests at containerConcurrency, so under Knative the wait here stays empty); past
QUEUE_FACTOR x that many waiting (the depth queue-proxy allows too) the answer is 429 with
Retry-After, so a plain Kubernetes Service under a burst gets a fast refusal instead of
unbounded memory and latency.

Stopping: SIGTERM (or SIGINT) closes the listening socket, answers new requests on open
connections 503 with `Connection: close`, lets requests in flight finish for up to
KILN_GRACE_SECONDS (default 30), answers those still running 503, runs teardown(), and exits 0.
A GPU fault (CUDA out of memory) is answered 503 and then stops the process the same way with
exit code 1, so Kubernetes restarts the container with fresh GPU state.
"""
from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import mimetypes
import os
import re
import signal
import stat
import sys
import uuid
from http import HTTPStatus
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import unquote, urlsplit

from kiln_harness import jsonlimits, results
from kiln_harness.loader import log_failure, UserCode, WorkerFailure
from kiln_harness.served_app import DEFAULT_GRACE_S, Route, ServedApp

_HTTP_VERSION = re.compile(r"HTTP/[0-9]\.[0-9]")
# RFC 9110's token characters, which a method is made of.
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _is_token(text: str) -> bool:
    return bool(text) and all(char in _TOKEN_CHARS for char in text)

QUEUE_FACTOR = 10
MAX_BODY_BYTES = 64 * 1024 * 1024  # as the runtime: inputs carry images as base64
MAX_HEAD_BYTES = 64 * 1024
MAX_CHUNK_LINE = 1024  # a chunk's size line, extensions included
FILE_NAME_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._-")
JSON = b"application/json"
REQUEST_ID_HEADER = "x-fal-request-id"
TARGET_URL_HEADER = "x-fal-target-url"

STARTING, READY, DRAINING = "starting", "ready", "draining"


class HttpError(Exception):
    """A request the transport answers itself, with fal's `{"detail": ...}`."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class Request:
    __slots__ = ("method", "path", "headers", "body", "keep_alive")

    def __init__(self, method: str, path: str, headers: Dict[str, str], body: bytes, keep_alive: bool) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.keep_alive = keep_alive


class Response:
    __slots__ = ("status", "body", "headers", "content_type")

    def __init__(self, status: int, body: bytes, headers: Optional[Dict[str, str]] = None, content_type: bytes = JSON) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.content_type = content_type


def detail_response(status: int, detail: Any, headers: Optional[Dict[str, str]] = None) -> Response:
    return Response(status, json.dumps({"detail": detail}, separators=(",", ":"), default=str).encode(), headers)


def _status_line(status: int) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Status %d" % status
    return ("HTTP/1.1 %d %s\r\n" % (status, reason)).encode("latin-1")


_STATUS_LINES = {status.value: _status_line(status.value) for status in HTTPStatus}


# ---- the app behind the transport -----------------------------------------------------------


class Service:
    """The served app, its readiness, the multiplexing limit and the drain."""

    def __init__(self, served: ServedApp, health_path: Optional[str], grace_s: float) -> None:
        self.served = served
        self.health_path = health_path
        self.grace_s = grace_s
        self.state = STARTING
        self.exit_code = 0
        self.loop = asyncio.get_running_loop()
        self.capacity = served.max_multiplexing
        self.max_waiting = QUEUE_FACTOR * self.capacity
        # Read once: the environment does not change while the process serves.
        self.max_json_depth = jsonlimits.configured_max_depth()
        self.slots = asyncio.Semaphore(self.capacity)
        self.waiting = 0
        # Requests accepted and not yet answered (running or waiting for a slot), by connection.
        self.inflight: Dict[int, "Connection"] = {}
        self.connections: "set[Connection]" = set()
        self.idle = asyncio.Event()
        self.idle.set()
        self.stopped = asyncio.Event()
        self.handlers = concurrent.futures.ThreadPoolExecutor(self.capacity, thread_name_prefix="kiln-handler")
        # setup(), teardown() and health checks: never behind busy handler threads, since a busy
        # pod is still a ready one.
        self.control = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="kiln-control")

    # -- answers ---------------------------------------------------------------------------

    async def answer(self, request: Request, connection: "Connection") -> Response:
        target = request.headers.get(TARGET_URL_HEADER)
        if target is not None:
            return await self.answer_proxied(request, connection, target)
        path = _endpoint_path(request.path)
        if path == "/health" and request.method in ("GET", "HEAD"):
            return await self.readiness()
        if path.startswith("/files/") and request.method in ("GET", "HEAD"):
            return await self.loop.run_in_executor(None, _saved_file, path[len("/files/") :])
        return await self.invoke(request, connection, path)

    async def answer_proxied(self, request: Request, connection: "Connection", target: str) -> Response:
        """@fal-ai/client sends every call to its proxyUrl with the fal URL it meant in a header."""
        url = urlsplit(target)
        if url.hostname is not None and url.hostname.startswith("queue."):
            return detail_response(
                404,
                "This container serves sync calls (fal.run); the queue API (fal.subscribe, fal.queue) is not served here.",
            )
        segments = [segment for segment in url.path.split("/") if segment]
        return await self.invoke(request, connection, "/" + "/".join(segments[2:]))

    async def invoke(self, request: Request, connection: "Connection", path: str) -> Response:
        request_id = request.headers.get(REQUEST_ID_HEADER) or uuid.uuid4().hex
        ids = {REQUEST_ID_HEADER: request_id}
        if request.method != "POST":
            return detail_response(405, "Endpoints are called with POST", {**ids, "allow": "POST"})
        if self.state != READY:
            if self.state == STARTING:
                return detail_response(503, "The app is starting (setup() is running); retry shortly.", {**ids, "retry-after": "1"})
            return detail_response(503, "The app is shutting down; retry the request.", {**ids, "connection": "close"})
        route, missing = self.served.route(path)
        if route is None:
            return detail_response(404, missing, ids)
        try:
            data = _json_body(request, self.max_json_depth)
        except HttpError as error:
            return detail_response(error.status, error.detail, ids)
        if self.slots.locked() and self.waiting >= self.max_waiting:
            return detail_response(
                429,
                "%d requests are running and %d waiting (max_multiplexing=%d); retry shortly."
                % (self.capacity, self.waiting, self.capacity),
                {**ids, "retry-after": "1"},
            )
        self.inflight[id(connection)] = connection
        self.idle.clear()
        try:
            self.waiting += 1
            try:
                await self.slots.acquire()
            finally:
                self.waiting -= 1
            try:
                if connection.answered:  # the grace period ran out while it waited
                    return Response(503, b"", ids)
                status, body = await self._call(route, data, request_id, path, connection)
            finally:
                self.slots.release()
        finally:
            self.inflight.pop(id(connection), None)
            if not self.inflight:
                self.idle.set()
        return Response(status, body, ids)

    async def _call(self, route: Route, data: Any, request_id: str, path: str, connection: "Connection") -> Tuple[int, bytes]:
        if route.endpoint.is_async:
            future = self.served.event_loop().submit(self._run_async(route, data))
            connection.cancel_on_close = future
            try:
                status, text, failure = await asyncio.wrap_future(future)
            except concurrent.futures.CancelledError:
                return 499, b'{"detail":"Request cancelled"}'  # the caller is gone; nobody reads it
            finally:
                connection.cancel_on_close = None
        else:
            status, text, failure = await self.loop.run_in_executor(self.handlers, self._run_sync, route, data)
        if failure is not None:
            if failure.unexpected:
                results.log_failure(request_id, path, failure)
            if failure.fatal:
                sys.stderr.write("kiln serve: a GPU fault leaves this process's GPU state unusable; stopping so it is restarted\n")
                self.stop(exit_code=1)
        return status, text.encode()

    def _run_sync(self, route: Route, data: Any) -> Tuple[int, str, Optional[results.Failure]]:
        try:
            return 200, results.output_json(self.served.call_sync(route, data)), None
        except BaseException as error:
            return _failed(error)

    async def _run_async(self, route: Route, data: Any) -> Tuple[int, str, Optional[results.Failure]]:
        try:
            return 200, results.output_json(await self.served.call_async(route, data)), None
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            return _failed(error)

    async def readiness(self) -> Response:
        if self.state == STARTING:
            return detail_response(503, "setup() is running")
        if self.state == DRAINING:
            return detail_response(503, "shutting down")
        if self.health_path is None:
            return Response(200, b'{"status":"ready"}')
        route, _ = self.served.route(self.health_path)
        if route is None:
            return detail_response(500, "the health endpoint %s is not one of the app's endpoints" % self.health_path)
        if route.endpoint.is_async:
            status, text, failure = await asyncio.wrap_future(self.served.event_loop().submit(self._run_async(route, {})))
        else:
            status, text, failure = await self.loop.run_in_executor(self.control, self._run_sync, route, {})
        if failure is not None and failure.unexpected:
            results.log_failure("health", self.health_path, failure)
        return Response(status, text.encode())

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> bool:
        """Run setup() off the loop, so /health answers 503 meanwhile; False if it failed."""
        try:
            setup_ms = await self.loop.run_in_executor(self.control, self.served.start)
        except WorkerFailure as failure:
            _report(failure)
            return False
        if self.state == STARTING:
            self.state = READY
            sys.stderr.write("kiln serve: ready (setup() took %.0f ms; max_multiplexing=%d)\n" % (setup_ms, self.capacity))
        return True

    def stop(self, exit_code: int = 0) -> None:
        """Stop taking requests; serve_forever() drains, tears down and returns."""
        if self.state == DRAINING:
            return
        self.exit_code = max(self.exit_code, exit_code)
        self.state = DRAINING
        for connection in list(self.connections):
            connection.close_when_idle()
        self.stopped.set()

    async def drain(self) -> None:
        if not self.inflight:
            return
        sys.stderr.write("kiln serve: waiting up to %.0f s for %d request(s) in flight\n" % (self.grace_s, len(self.inflight)))
        try:
            await asyncio.wait_for(self.idle.wait(), self.grace_s)
        except asyncio.TimeoutError:
            for connection in list(self.inflight.values()):
                connection.abandon(
                    detail_response(
                        503,
                        "The server shut down before the request finished (its %.0f s grace period ran out)." % self.grace_s,
                        {"connection": "close"},
                    )
                )


def _failed(error: BaseException) -> Tuple[int, str, results.Failure]:
    failure = results.failure_of(error)
    return failure.status, json.dumps({"detail": failure.detail}, separators=(",", ":"), default=str), failure


def _endpoint_path(target: str) -> str:
    """`/generate/?x=1` -> `/generate`."""
    path = unquote(target.split("?", 1)[0])
    return path.rstrip("/") or "/"


def _json_body(request: Request, max_depth: int) -> Any:
    if not request.body.strip():
        return {}
    try:
        return jsonlimits.loads(request.body, max_depth)
    except jsonlimits.TooDeep as error:
        raise HttpError(
            400,
            "The request body nests arrays and objects more than %d levels deep (KILN_MAX_JSON_DEPTH); send a flatter value."
            % error.max_depth,
        ) from None
    except ValueError as error:
        position = getattr(error, "pos", 0)
        raise HttpError(422, [{"loc": ["body", position], "msg": "JSON decode error", "type": "json_invalid"}]) from None


def _saved_file(name: str) -> Response:
    """A file the app saved; names are random, so only a URL the app handed out finds one. Runs
    off the event loop: a large file is read whole."""
    folder = os.environ.get("KILN_FILES_DIR")
    if not folder or not name or name.startswith(".") or not FILE_NAME_CHARS.issuperset(name):
        return detail_response(404, "No such file.")
    try:
        # Without following a link out of the folder, and without waiting on a FIFO the app
        # made there: only a plain file is read.
        fd = os.open(os.path.join(folder, name), os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return detail_response(404, "No such file.")
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return detail_response(404, "No such file.")
        data = file.read()
    content_type = (mimetypes.guess_type(name)[0] or "application/octet-stream").encode()
    return Response(200, data, {"cache-control": "private, max-age=31536000, immutable"}, content_type)


def _report(failure: WorkerFailure) -> None:
    error = failure.error
    where = " (%s:%s)" % (error["file"], error["line"]) if error.get("file") else ""
    log_failure(failure)
    sys.stderr.write("kiln serve: %s failed: %s%s\n" % (failure.phase, error["message"], where))


# ---- HTTP/1.1 on one connection -------------------------------------------------------------


class Connection(asyncio.Protocol):
    """Reads requests one after another (pipelined ones wait their turn) and writes each answer."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.transport: Optional[asyncio.Transport] = None
        self.buffer = bytearray()
        self.busy = False
        self.closing = False
        self.continue_sent = False
        self.cancel_on_close: Optional[concurrent.futures.Future] = None
        self.answered = False
        self.chunks: Optional[_Chunks] = None  # the chunked body of the request being read

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.service.connections.add(self)

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.service.connections.discard(self)
        self.closing = True
        if self.cancel_on_close is not None:
            self.cancel_on_close.cancel()  # an async handler stops at its next await

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._next()
        elif len(self.buffer) > MAX_BODY_BYTES + MAX_HEAD_BYTES:
            self.transport.pause_reading()  # pipelined far ahead: wait for the answers

    def close_when_idle(self) -> None:
        if not self.busy and self.transport is not None:
            self.transport.close()

    def abandon(self, response: Response) -> None:
        """Answer the request in flight now (the grace period ran out) and close."""
        if self.busy and not self.answered:
            self._write(response, keep_alive=False)

    def _next(self) -> None:
        while not self.busy and not self.closing and self.buffer:
            try:
                request = self._parse()
            except HttpError as error:
                self._write(detail_response(error.status, error.detail), keep_alive=False)
                return
            if request is None:
                return  # more bytes to come
            self.busy = True
            self.answered = False
            self.service.loop.create_task(self._serve(request))

    async def _serve(self, request: Request) -> None:
        try:
            response = await self.service.answer(request, self)
        except Exception as error:  # a transport bug must still answer, and say what it was
            sys.stderr.write("kiln serve: internal error answering %s %s: %r\n" % (request.method, request.path, error))
            response = detail_response(500, "Internal error: %s" % error)
        if self.answered or self.closing:
            return
        keep_alive = request.keep_alive and self.service.state != DRAINING and response.headers.get("connection") != "close"
        if request.method == "HEAD":
            response = Response(response.status, b"", response.headers, response.content_type)
        self._write(response, keep_alive)
        self.busy = False
        if keep_alive:
            self.transport.resume_reading()
            self._next()

    def _write(self, response: Response, keep_alive: bool) -> None:
        self.answered = True
        head = [
            _STATUS_LINES.get(response.status) or _status_line(response.status),
            b"content-type: %s\r\ncontent-length: %d\r\n" % (response.content_type, len(response.body)),
        ]
        for name, value in response.headers.items():
            if name != "connection":
                head.append(("%s: %s\r\n" % (name, value)).encode("latin-1", "replace"))
        head.append(b"\r\n" if keep_alive else b"connection: close\r\n\r\n")
        self.transport.write(b"".join(head) + response.body)
        if not keep_alive:
            self.closing = True
            self.transport.close()

    def _parse(self) -> Optional[Request]:
        """The next whole request in the buffer (consumed), or None until more arrives."""
        buffer = self.buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > MAX_HEAD_BYTES:
                raise HttpError(431, "The request's headers are too large")
            return None
        lines = bytes(buffer[:end]).decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ")
        except ValueError:
            raise HttpError(400, "Malformed request line") from None
        # Only a request line that is HTTP at all may be told its version is not served.
        if not (_is_token(method) and target and _HTTP_VERSION.fullmatch(version)):
            raise HttpError(400, "Malformed request line")
        if not version.startswith("HTTP/1."):
            raise HttpError(505, "Only HTTP/1.x is served")
        headers: Dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon:
                raise HttpError(400, "Malformed header line")
            headers[name.strip().lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        keep_alive = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
        start = end + 4
        if "chunked" in headers.get("transfer-encoding", "").lower():
            if self.chunks is None:
                self.chunks = _Chunks(start)
            body, consumed = self.chunks.read(buffer)
        else:
            length_text = headers.get("content-length", "0")
            if not length_text.isdigit():
                raise HttpError(400, "Content-Length is not a number")
            length = int(length_text)
            if length > MAX_BODY_BYTES:
                raise HttpError(413, "The request body is larger than %d MB" % (MAX_BODY_BYTES >> 20))
            consumed = start + length if len(buffer) >= start + length else None
            body = bytes(buffer[start:consumed]) if consumed is not None else None
        if body is None:
            if headers.get("expect", "").lower() == "100-continue" and not self.continue_sent:
                self.continue_sent = True
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            return None
        del buffer[:consumed]
        self.continue_sent = False
        self.chunks = None
        return Request(method, target, headers, body, keep_alive)



class _Chunks:
    """A chunked body read as it arrives: each read resumes where the last one stopped, so a body
    that trickles in costs its length once, and no line it holds may grow without end."""

    __slots__ = ("at", "parts", "size")

    def __init__(self, start: int) -> None:
        self.at = start
        self.parts: List[bytes] = []
        self.size = 0

    def read(self, buffer: bytearray) -> Tuple[Optional[bytes], int]:
        """(the body, where the request ends in `buffer`), or (None, 0) until more arrives."""
        while True:
            line_end = buffer.find(b"\r\n", self.at, self.at + MAX_CHUNK_LINE)
            if line_end < 0:
                if len(buffer) - self.at >= MAX_CHUNK_LINE:
                    raise HttpError(400, "Malformed chunk size")
                return None, 0
            try:
                size = int(bytes(buffer[self.at : line_end]).split(b";", 1)[0], 16)
            except ValueError:
                raise HttpError(400, "Malformed chunk size") from None
            if size < 0 or self.size + size > MAX_BODY_BYTES:
                raise HttpError(413, "The request body is larger than %d MB" % (MAX_BODY_BYTES >> 20))
            if size == 0:
                # Trailer lines, if any, end with an empty line.
                if buffer.startswith(b"\r\n", line_end + 2):
                    return b"".join(self.parts), line_end + 4
                trailer_end = buffer.find(b"\r\n\r\n", line_end, line_end + MAX_HEAD_BYTES)
                if trailer_end < 0:
                    if len(buffer) - line_end >= MAX_HEAD_BYTES:
                        raise HttpError(431, "The request's trailers are too large")
                    return None, 0
                return b"".join(self.parts), trailer_end + 4
            data_start = line_end + 2
            if len(buffer) < data_start + size + 2:
                return None, 0
            self.parts.append(bytes(buffer[data_start : data_start + size]))
            self.size += size
            self.at = data_start + size + 2


# ---- the process ------------------------------------------------------------------------------


def parse_args(argv: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m kiln_harness.serve",
        description="Serve one fal.App over HTTP in fal's sync shape (the container entrypoint of `kiln export`).",
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")), help="default: $PORT, else 8080")
    parser.add_argument("--host", default="0.0.0.0", help="default: every interface, as a container needs")
    parser.add_argument("--app-file", default=os.environ.get("KILN_APP_FILE"), help="default: $KILN_APP_FILE")
    parser.add_argument("--class", dest="class_name", default=os.environ.get("KILN_APP_CLASS") or None, help="default: $KILN_APP_CLASS")
    parser.add_argument(
        "--health-endpoint",
        default=os.environ.get("KILN_HEALTH_ENDPOINT") or None,
        help="the app's health endpoint that GET /health calls (default: $KILN_HEALTH_ENDPOINT; none: ready once setup() is done)",
    )
    args = parser.parse_args(argv)
    if not args.app_file:
        parser.error("give the app file with --app-file or KILN_APP_FILE")
    return args


def _grace_seconds() -> float:
    raw = os.environ.get("KILN_GRACE_SECONDS")
    if raw is None:
        return DEFAULT_GRACE_S
    try:
        value = float(raw)
        if value >= 0:
            return value
    except ValueError:
        pass
    sys.stderr.write("kiln serve: KILN_GRACE_SECONDS=%r is not a number of seconds; using %.0f\n" % (raw, DEFAULT_GRACE_S))
    return DEFAULT_GRACE_S


async def serve(args: argparse.Namespace) -> int:
    user = UserCode(args.app_file)
    sys.argv = [user.file]
    try:
        module = user.import_module()
        cls = user.find_classes(module, args.class_name, need_one=True)[0]
        served = ServedApp(cls, user)
    except WorkerFailure as failure:
        _report(failure)
        return 1
    if args.health_endpoint is not None and args.health_endpoint not in served.endpoints:
        sys.stderr.write(
            "kiln serve: --health-endpoint %s is not an endpoint of %s (it has %s)\n"
            % (args.health_endpoint, cls.__name__, ", ".join(sorted(served.endpoints)) or "none")
        )
        return 2
    service = Service(served, args.health_endpoint, _grace_seconds())
    loop = service.loop
    server = await loop.create_server(lambda: Connection(service), args.host, args.port, reuse_address=True)
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, service.stop)
    sys.stderr.write("kiln serve: %s from %s on %s:%d; setup() is running\n" % (cls.__name__, user.file, args.host, args.port))
    started = loop.create_task(service.start())
    stopped = loop.create_task(service.stopped.wait())
    await asyncio.wait({started, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if started.done() and not started.result():
        return 1  # setup() failed; its traceback is in the log
    if not started.done():
        return 0  # stopped during setup: nothing to drain, and teardown() is for a set-up app
    await service.stopped.wait()
    server.close()
    await service.drain()
    sys.stderr.write("kiln serve: running teardown()\n")
    await loop.run_in_executor(service.control, served.teardown)
    return service.exit_code


def main(argv: List[str]) -> int:
    return asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    from kiln_harness.process import exit_now

    exit_now(main(sys.argv[1:]))
