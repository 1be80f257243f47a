"""Length-prefixed JSON frames over file descriptors (see src/runtime/runners/workerProtocol.ts):
a 4-byte unsigned big-endian length, then that many bytes of UTF-8 JSON."""
from __future__ import annotations

import json
import os
import struct
import sys
import threading
from typing import Any

from kiln_harness import jsonlimits

_HEADER = struct.Struct(">I")
_READ_SIZE = 1 << 16

EOF = object()
"""read() result: the other side closed the pipe."""


class FrameTooDeep(ValueError):
    """A frame whose members nest past the limit: `message` is the frame with each such
    member read as null, so the request it carries can still be answered."""

    def __init__(self, message: Any, max_input_depth: int) -> None:
        super().__init__("a value in the frame nests more than %d levels deep" % max_input_depth)
        self.message = message
        self.max_input_depth = max_input_depth


class FrameReader:
    """Reads frames from `fd`; a frame may arrive in any number of pieces, and one read
    may hold several frames, so bytes are kept until a whole frame is there. Not
    thread-safe: one thread reads at a time."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = bytearray()
        self._closed = False
        self._max_input_depth = jsonlimits.configured_max_depth()

    def discard_buffered(self) -> None:
        """Forgets what was read but not yet returned (a forked child must not keep the
        template's pending frames)."""
        self._buffer.clear()

    def has_frame(self) -> bool:
        """Whether a whole frame is already buffered: read() returns it without blocking, and
        a select() on the fd would not say so."""
        buffer = self._buffer
        return len(buffer) >= 4 and len(buffer) >= 4 + _HEADER.unpack_from(buffer)[0]

    def read(self) -> Any:
        """The next frame as a JSON value, or EOF. ValueError if it is not JSON, FrameTooDeep
        if a value in it (a request's input) nests past the limit."""
        buffer = self._buffer
        while True:
            if len(buffer) >= 4:
                (size,) = _HEADER.unpack_from(buffer)
                end = 4 + size
                if len(buffer) >= end:
                    payload = bytes(buffer[4:end])
                    del buffer[:end]  # before decoding: a bad frame must not stay in the way
                    # The frame wraps the input in one more level than the input has.
                    message, pruned = jsonlimits.loads_pruned(payload, self._max_input_depth + 1)
                    if pruned:
                        raise FrameTooDeep(message, self._max_input_depth)
                    return message
            if self._closed:
                if buffer:
                    sys.stderr.write("kiln worker: the runtime closed the pipe in the middle of a frame\n")
                    buffer.clear()
                return EOF
            chunk = os.read(self.fd, _READ_SIZE)
            if chunk:
                buffer += chunk
            else:
                self._closed = True


class FrameWriter:
    """Writes whole frames to `fd` from any thread, one at a time."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._lock = threading.Lock()
        self._closed = False

    def send(self, message: Any) -> None:
        self.send_json(json.dumps(message, separators=(",", ":"), default=str))

    def send_json(self, text: str) -> None:
        payload = text.encode()
        data = _HEADER.pack(len(payload)) + payload
        with self._lock:
            if self._closed:
                return
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(self.fd, view) :]
            except OSError as error:
                # The runtime is gone; what is left to say has nowhere to go. Reading fd 3
                # will see EOF and shut the worker down.
                self._closed = True
                sys.stderr.write("kiln worker: cannot write to the runtime (%s)\n" % error)

    def close(self) -> None:
        """Wait for a frame being written to finish, then refuse further frames."""
        with self._lock:
            self._closed = True
