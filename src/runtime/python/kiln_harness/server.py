"""Serve mode over the runtime's pipes: run setup, answer invoke/cancel frames, shut down on
request. The app instance, its routes and handler calls are served_app.py's; this is the frame
transport around them (the container's HTTP transport is serve.py).

Threads. KILN_MAX_MULTIPLEXING + 1 handler threads take turns as the reader of fd 3
(leader/followers): the reader handles cancels, shutdown and async invokes itself, and
when it reads a sync invoke it hands the reader role to an idle thread and runs the
request itself. A request therefore never waits for a thread to wake up, at most
KILN_MAX_MULTIPLEXING sync handlers run at once, and one thread is always left reading,
so a cancel or shutdown is seen at once however busy the handlers are. Async handlers
(and async setup/teardown) run on one asyncio event loop in its own thread. The main
thread runs setup and teardown and waits for a stop: shutdown frame, EOF, SIGTERM/SIGINT.
"""
from __future__ import annotations

import collections
import json
import os
import select
import signal
import sys
import threading
from time import monotonic, perf_counter
from typing import Any, Dict, Optional, Tuple

from kiln_harness import results
from kiln_harness.frames import EOF, FrameReader, FrameTooDeep, FrameWriter
from kiln_harness.loader import UserCode
from kiln_harness.process import signals_to_pipe
from kiln_harness.served_app import DEFAULT_GRACE_S, Route, ServedApp

_POLL_S = 0.05
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _Request:
    __slots__ = ("id", "id_json", "path", "started", "is_async", "task")

    def __init__(self, request_id: str, path: Any, is_async: bool) -> None:
        self.id = request_id
        self.id_json = json.dumps(request_id)
        self.path = path
        self.started = perf_counter()
        self.is_async = is_async
        self.task: Any = None


_Job = Tuple[_Request, Route, Any]


class Server:
    def __init__(self, cls: type, user: UserCode, reader: FrameReader, writer: FrameWriter) -> None:
        self.served = ServedApp(cls, user)
        self.reader = reader
        self.writer = writer
        self.capacity = self.served.max_multiplexing
        self.inflight: Dict[str, _Request] = {}
        self._reader_lock = threading.Lock()  # held by the thread whose turn it is to read
        self._reading = True  # until EOF
        self._state_lock = threading.Lock()  # guards _executing and _backlog
        self._executing = 0
        self._backlog: "collections.deque[_Job]" = collections.deque()
        self._stopping = False
        self._grace = DEFAULT_GRACE_S
        self._stopped = threading.Event()
        self._stop_pipe: Optional[Tuple[int, int]] = None
        self._signal_fd: Optional[int] = None
        self._draining = False
        self._drained = threading.Event()

    # ---- lifecycle (main thread) ------------------------------------------------------

    def start(self, instance: Any = None) -> float:
        """Create the app and run its setup (unless `instance` is one a template set up before
        the fork); returns setup time in ms."""
        return self.served.start(instance)

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the worker as a shutdown frame does. Until now (during
        setup) they keep their default effect: there is nothing to drain or tear down."""
        if os.name != "posix":
            return
        self._stop_pipe = os.pipe()
        self._signal_fd, _ = signals_to_pipe(_STOP_SIGNALS)

    def serve(self) -> None:
        """Answer frames until shutdown, EOF or a signal; then drain and tear down."""
        for index in range(self.capacity + 1):
            threading.Thread(target=self._take_turns, name="kiln-handler-%d" % index, daemon=True).start()
        self._wait_for_stop()
        self._drain()
        self.served.teardown()

    def _wait_for_stop(self) -> None:
        if self._stop_pipe is None or self._signal_fd is None:
            self._stopped.wait()
            return
        while not self._stopped.is_set():
            ready = select.select([self._stop_pipe[0], self._signal_fd], [], [])[0]
            if self._signal_fd in ready:
                try:
                    caught = os.read(self._signal_fd, 64)
                except BlockingIOError:
                    caught = b""
                if any(signum in caught for signum in _STOP_SIGNALS):
                    self._stop(DEFAULT_GRACE_S)

    def _stop(self, grace: float) -> None:
        """Stop taking requests; the main thread drains and tears down."""
        if self._stopping:
            return
        self._stopping = True
        self._grace = grace
        self._stopped.set()
        if self._stop_pipe is not None:
            os.write(self._stop_pipe[1], b"!")

    def _drain(self) -> None:
        """Wait for in-flight requests, up to the grace period; the handler threads keep
        reading meanwhile, so cancels still work and new invokes are turned away."""
        deadline = monotonic() + self._grace
        self._draining = True
        while self.inflight:
            left = deadline - monotonic()
            if left <= 0:
                break
            self._drained.wait(min(left, _POLL_S))
        for request in list(self.inflight.values()):
            if self.inflight.pop(request.id, None) is request:
                self._reply_error(
                    request.id,
                    503,
                    "The runner shut down before the request finished (its %.0f s grace period ran out)."
                    % self._grace,
                )

    # ---- handler threads --------------------------------------------------------------

    def _take_turns(self) -> None:
        while True:
            with self._reader_lock:
                job = self._read_until_job() if self._reading else None
            if job is None:
                return  # the runtime closed the pipe: nothing more will come
            while job is not None:
                self._run_sync(*job)
                job = self._next_backlogged()

    def _read_until_job(self) -> Optional[_Job]:
        """Handle frames until one is a sync request this thread should run; None at EOF."""
        while True:
            try:
                message = self.reader.read()
            except FrameTooDeep as error:
                detail = "The input nests arrays and objects more than %d levels deep; send a flatter value."
                self._refuse_frame(error.message, 400, detail % error.max_input_depth)
                continue
            except ValueError as error:
                sys.stderr.write("kiln worker: ignoring a frame that is not JSON (%s)\n" % error)
                continue
            except OSError as error:
                sys.stderr.write("kiln worker: cannot read from the runtime (%s)\n" % error)
                message = EOF
            if message is EOF:
                self._reading = False
                self._stop(DEFAULT_GRACE_S)
                return None
            try:
                job = self._handle_frame(message)
            except Exception as error:
                # Whatever a frame holds, the thread reading it lives on to read the next one.
                sys.stderr.write("kiln worker: could not handle a frame (%r)\n" % (error,))
                self._refuse_frame(message, 500, "The runner could not handle the request (%s)." % type(error).__name__)
                continue
            if job is not None:
                return job

    def _handle_frame(self, message: Any) -> Optional[_Job]:
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "invoke":
            return self._invoke(message)
        if kind == "cancel":
            self._cancel(message.get("id"))
        elif kind == "shutdown":
            grace_ms = message.get("graceMs")
            valid = isinstance(grace_ms, (int, float)) and not isinstance(grace_ms, bool) and grace_ms >= 0
            self._stop(grace_ms / 1000.0 if valid else DEFAULT_GRACE_S)
        else:
            sys.stderr.write("kiln worker: ignoring an unknown frame %.200r\n" % (message,))
        return None

    def _refuse_frame(self, message: Any, status: int, detail: str) -> None:
        """Answers the invoke a frame carries, if it is one, with an error."""
        request_id = message.get("id") if isinstance(message, dict) and message.get("type") == "invoke" else None
        if not isinstance(request_id, str):
            sys.stderr.write("kiln worker: ignoring a frame that could not be handled: %s\n" % detail)
            return
        self.inflight.pop(request_id, None)  # in case it got that far
        self._reply_error(request_id, status, detail)

    def _invoke(self, message: Dict[str, Any]) -> Optional[_Job]:
        """Start an async request, or return a sync one for this thread to run."""
        request_id = message.get("id")
        if not isinstance(request_id, str):
            sys.stderr.write("kiln worker: ignoring an invoke without a string id\n")
            return None
        if request_id in self.inflight:
            # Any answer would be taken for the first request's; the runtime never reuses ids.
            sys.stderr.write("kiln worker: ignoring a second invoke with the in-flight id %s\n" % request_id)
            return None
        path = message.get("path")
        route, missing = self.served.route(path)
        if route is None:
            self._reply_error(request_id, 404, missing)
            return None
        if self._stopping:
            self._reply_error(request_id, 503, "The runner is shutting down; retry the request.")
            return None
        data = message.get("input")
        if data is None:
            data = {}
        request = _Request(request_id, path, route.endpoint.is_async)
        self.inflight[request_id] = request
        if request.is_async:
            loop = self.served.event_loop().loop
            loop.call_soon_threadsafe(self._start_task, loop, request, route, data)
            return None
        job = (request, route, data)
        with self._state_lock:
            if self._executing < self.capacity:
                self._executing += 1
                return job
            # More requests than KILN_MAX_MULTIPLEXING: the next thread to finish runs it.
            self._backlog.append(job)
        return None

    def _next_backlogged(self) -> Optional[_Job]:
        with self._state_lock:
            while self._backlog:
                job = self._backlog.popleft()
                if self.inflight.get(job[0].id) is job[0]:  # else it was cancelled while waiting
                    return job
            self._executing -= 1
            return None

    def _run_sync(self, request: _Request, route: Route, data: Any) -> None:
        started = perf_counter()
        try:
            output = self.served.call_sync(route, data)
            text = results.ok_frame(request.id_json, output, started)
        except BaseException as exc:
            text = self._error_text(request, exc, started)
        self._finish(request, text)

    # ---- async requests (event loop thread) -------------------------------------------

    def _start_task(self, loop: Any, request: _Request, route: Route, data: Any) -> None:
        request.task = loop.create_task(self._run_async(request, route, data))

    async def _run_async(self, request: _Request, route: Route, data: Any) -> None:
        started = perf_counter()
        try:
            output = await self.served.call_async(route, data)
            text = results.ok_frame(request.id_json, output, started)
        except BaseException as exc:  # CancelledError included: the 499 was already sent
            text = self._error_text(request, exc, started)
        self._finish(request, text)

    # ---- answers (any thread) ---------------------------------------------------------

    def _error_text(self, request: _Request, error: BaseException, started: float) -> str:
        try:
            failure = results.failure_of(error)
            if failure.unexpected:
                results.log_failure(request.id, request.path, failure)
            return json.dumps(results.error_frame(request.id, failure, started), separators=(",", ":"), default=str)
        except Exception as problem:
            # An exception that cannot be described (its __str__ raises, say) is still answered.
            detail = "The handler raised %s, which could not be reported (%s)." % (type(error).__name__, type(problem).__name__)
            sys.stderr.write("kiln worker: request %s to %s failed: %s\n" % (request.id, request.path, detail))
            return json.dumps(_error_result(request.id, 500, detail))

    def _finish(self, request: _Request, text: str) -> None:
        # A cancelled request was answered already and removed; its late result is dropped.
        if self.inflight.pop(request.id, None) is request:
            self.writer.send_json(text)
            if self._draining and not self.inflight:
                self._drained.set()

    def _cancel(self, request_id: Any) -> None:
        request = self.inflight.pop(request_id, None) if isinstance(request_id, str) else None
        if request is None:
            return  # finished already, or never seen
        # Answered at once: a running sync handler cannot be interrupted, so its result,
        # when it comes, is dropped; an async one is cancelled at its next await.
        self.writer.send(results.cancelled_frame(request.id, request.started))
        if request.is_async and self.served.has_event_loop:
            self.served.event_loop().loop.call_soon_threadsafe(_cancel_task, request)

    def _reply_error(self, request_id: str, status: int, detail: str) -> None:
        self.writer.send(_error_result(request_id, status, detail))


def _error_result(request_id: Any, status: int, detail: str) -> Dict[str, Any]:
    """The result frame of a request the harness itself failed, before or around its handler."""
    return {"type": "result", "id": request_id, "ok": False, "status": status, "detail": detail, "executionMs": 0}


def _cancel_task(request: _Request) -> None:
    if request.task is not None:
        request.task.cancel()


def run_serve(user: UserCode, cls: type, reader: FrameReader, writer: FrameWriter, instance: Any = None) -> int:
    server = Server(cls, user, reader, writer)
    # The app imported and its class was found: what follows is the user's setup() (done
    # already when the runner was forked from a snapshot).
    writer.send({"type": "setup-started"})
    setup_ms = server.start(instance)
    server.install_signal_handlers()
    writer.send(
        {
            "type": "ready",
            "pid": os.getpid(),
            "setupMs": round(setup_ms, 3),
            "python": "%d.%d.%d" % sys.version_info[:3],
        }
    )
    server.serve()
    return 0
