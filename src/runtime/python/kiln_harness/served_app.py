"""One served App instance, whatever carries its requests: the class's routes, the instance's
lifecycle (construct, setup, teardown), and calling its sync and async handlers.

Both transports use it: the pipe worker the runtime talks to in frames (server.py) and the HTTP
serve mode of a container (serve.py). Neither answers requests itself here; results.py turns
what a handler returned or raised into a status and a body.
"""
from __future__ import annotations

import inspect
import os
import sys
import threading
import traceback
from time import perf_counter
from typing import Any, Callable, Dict, Optional, Tuple

from kiln_harness.endpoints import Endpoint, collect_endpoints
from kiln_harness.loader import UserCode

NOT_FOUND = "Not Found"
DEFAULT_GRACE_S = 30.0
"""Seconds in-flight requests get to finish when the app stops without being told how long (the
runtime closing the pipe, a signal)."""


class Route:
    """An endpoint bound to the running instance."""

    __slots__ = ("endpoint", "call")

    def __init__(self, endpoint: Endpoint, call: Callable[..., Any]) -> None:
        self.endpoint = endpoint
        self.call = call


class EventLoop:
    """One asyncio loop in a daemon thread, shared by every async handler (and async setup and
    teardown), so a transport's own threads never run the app's coroutines."""

    def __init__(self) -> None:
        import asyncio

        self._asyncio = asyncio
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self._run, name="kiln-asyncio", daemon=True).start()

    def _run(self) -> None:
        self._asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, awaitable: Any) -> Any:
        """Start `awaitable` on the loop from another thread: a concurrent.futures.Future."""

        async def run() -> Any:
            return await awaitable

        return self._asyncio.run_coroutine_threadsafe(run(), self.loop)

    def wait_for(self, awaitable: Any) -> Any:
        """Run `awaitable` on the loop from another thread and return its result."""
        return self.submit(awaitable).result()


class ServedApp:
    def __init__(self, cls: type, user: UserCode) -> None:
        self.cls = cls
        self.user = user
        self.endpoints = _endpoints_by_path(cls, user)
        self.max_multiplexing = max_multiplexing()
        self.instance: Any = None  # once start() made it
        self.routes: Dict[str, Route] = {}
        self._loop: Optional[EventLoop] = None
        self._loop_lock = threading.Lock()
        if any(endpoint.is_async for endpoint in self.endpoints.values()) or any(
            inspect.iscoroutinefunction(getattr(cls, name)) for name in ("setup", "teardown")
        ):
            self.event_loop()  # started now so the first request does not pay for it

    def start(self, instance: Any = None) -> float:
        """Create the instance and run its setup, unless `instance` is one that a template's
        snapshot set up before the fork; returns setup time in ms."""
        setup_ms = 0.0
        if instance is None:
            instance, setup_ms = create_instance(self.cls, self.user, self._run_maybe_async)
        self.instance = instance
        for path, endpoint in self.endpoints.items():
            self.routes[path] = Route(endpoint, getattr(instance, endpoint.attribute))
        return setup_ms

    def teardown(self) -> None:
        """Run teardown(); a failure is logged, as nothing is left to answer."""
        try:
            self._run_maybe_async(self.instance.teardown)
        except BaseException:
            sys.stderr.write("kiln worker: teardown() failed:\n" + traceback.format_exc())

    def route(self, path: Any) -> "tuple[Optional[Route], str]":
        """The route serving `path`, or None and the 404's detail."""
        route = self.routes.get(path) if isinstance(path, str) else None
        if route is None:
            return None, NOT_FOUND
        if route.endpoint.is_websocket:
            return None, "%s is a websocket endpoint (is_websocket=True); only HTTP endpoints are served" % path
        return route, ""

    def call_sync(self, route: Route, data: Any) -> Any:
        """Call a sync endpoint with the request's input (validated by its binding)."""
        output = route.call(**route.endpoint.bind(data))
        if hasattr(output, "__await__"):  # a sync wrapper around an async function
            output = self.event_loop().wait_for(output)
        return output

    async def call_async(self, route: Route, data: Any) -> Any:
        """Await an async endpoint; runs on event_loop()."""
        return await route.call(**route.endpoint.bind(data))

    def event_loop(self) -> EventLoop:
        if self._loop is None:
            with self._loop_lock:
                if self._loop is None:
                    self._loop = EventLoop()
        return self._loop

    @property
    def has_event_loop(self) -> bool:
        return self._loop is not None

    def _run_maybe_async(self, function: Callable[[], Any]) -> None:
        outcome = function()
        if hasattr(outcome, "__await__"):
            self.event_loop().wait_for(outcome)


def create_instance(cls: type, user: UserCode, run: Callable[[Callable[[], Any]], Any]) -> Tuple[Any, float]:
    """The app instance with its setup() done (`run` calls it, on the event loop when async),
    and how long setup took in ms; a failure is the user's, reported at their line."""
    started = perf_counter()
    try:
        instance = cls(_allow_init=True)
        run(instance.setup)
    except BaseException as exc:
        raise user.failure("setup", exc) from exc
    return instance, (perf_counter() - started) * 1000.0


def _endpoints_by_path(cls: type, user: UserCode) -> Dict[str, Endpoint]:
    routes: Dict[str, Endpoint] = {}
    for endpoint in collect_endpoints(cls):
        if not isinstance(endpoint.path, str):
            raise user.lookup_failure(
                "the path of endpoint %s is %r; endpoint paths are strings like \"/generate\""
                % (endpoint.attribute, endpoint.path)
            )
        other = routes.get(endpoint.path)
        if other is not None:
            raise user.lookup_failure(
                "endpoints %s and %s both use the path %s; give each its own path"
                % (other.attribute, endpoint.attribute, endpoint.path)
            )
        routes[endpoint.path] = endpoint
    return routes


def max_multiplexing() -> int:
    """KILN_MAX_MULTIPLEXING: requests one process serves at once (the runtime sets it for its
    runners from the app's configuration, `kiln export` in the container's manifest)."""
    raw = os.environ.get("KILN_MAX_MULTIPLEXING", "1")
    try:
        value = int(raw)
        if value >= 1:
            return value
    except ValueError:
        pass
    sys.stderr.write("kiln worker: KILN_MAX_MULTIPLEXING=%r is not a positive integer; using 1\n" % raw)
    return 1
