"""Template mode: one process per revision imports the app (torch, numpy and the user's code
with it) and never serves; runners are forked from it, so a cold start pays for a fork and
setup() instead of an interpreter start and every import.

The template runs no setup() (unless the app opts into a snapshot, below) and never touches
CUDA, so each runner initializes CUDA itself, on the GPUs it is given after the fork. A fork
copies one thread, and with it any lock another thread held; a CUDA driver cannot be used
again in a forked child. So before it offers to fork, the template checks that its imports
started no thread, opened no file and loaded no CUDA driver, and says why when they did: the
runtime then starts runners as fresh processes.

Snapshot after setup (`snapshot_after_setup = True`, CPU runners only): the template also
runs setup(), checks the same hazards again, and runners start with the model loaded.

Frames with the runtime, on the template's own fds 3 and 4 (see workerProtocol.ts):
  template -> runtime: inspect (first), template, snapshot, forked, runner-exit, failed
  runtime -> template: snapshot, fork, kill, shutdown (or EOF)
A runner connects to the runtime's socket for this template three times (its frames, its
stdout, its stderr), each connection opened by one line: `KILN-RUNNER <token> <channel>`.
"""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
import threading
import traceback
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Set

from kiln_harness.frames import EOF, FrameReader, FrameWriter
from kiln_harness.loader import report_error, UserCode
from kiln_harness.process import exit_now, signals_to_pipe

_PROC = "/proc/self"


def open_fds() -> Dict[int, str]:
    """The process's open file descriptors and what each refers to (Linux)."""
    found: Dict[int, str] = {}
    try:
        names = os.listdir(_PROC + "/fd")
    except OSError:
        return found
    for name in names:
        try:
            found[int(name)] = os.readlink("%s/fd/%s" % (_PROC, name))
        except OSError:
            pass  # the listing's own descriptor, closed by now
    return found


def fork_hazards(known_fds: Dict[int, str]) -> List[str]:
    """What makes this process unsafe to fork, in words for the deploy output; empty when safe.

    `known_fds` are the descriptors the harness itself holds; any other was opened by the app,
    and runners forked from here would share it (and a file's read position)."""
    hazards: List[str] = []
    others = [thread.name for thread in threading.enumerate() if thread is not threading.main_thread()]
    if others:
        hazards.append("started thread%s %s" % ("s" if len(others) > 1 else "", ", ".join(sorted(others))))
    try:
        native = len(os.listdir(_PROC + "/task")) - 1 - len(others)
    except OSError:
        native = 0
    if native > 0:
        hazards.append("started %d thread%s outside Python (a native library's)" % (native, "s" if native > 1 else ""))
    if _cuda_initialized():
        hazards.append("initialized CUDA, whose state cannot cross a fork")
    opened = sorted(target for fd, target in open_fds().items() if fd not in known_fds)
    if opened:
        hazards.append("left open %s" % ", ".join(opened[:5]) + (" and %d more" % (len(opened) - 5) if len(opened) > 5 else ""))
    return hazards


def _cuda_initialized() -> bool:
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_initialized():
            return True
    except Exception:
        pass
    try:
        with open(_PROC + "/maps") as maps:
            return any("libcuda.so" in line for line in maps)
    except OSError:
        return False


@contextmanager
def recording_seeds() -> Iterator[Set[str]]:
    """Which global random generators the code inside seeds itself (random.seed,
    numpy.random.seed, torch.manual_seed): a runner forked after it keeps those, and gets
    fresh entropy in the others, just as a runner that ran setup() itself would."""
    seeded: Set[str] = set()
    patched = []
    targets = [("random", "random", "seed"), ("numpy", "numpy.random", "seed"), ("torch", "torch", "manual_seed"),
               ("torch", "torch.random", "manual_seed")]
    for key, module_name, attribute in targets:
        module = sys.modules.get(module_name)
        original = getattr(module, attribute, None) if module is not None else None
        if original is None:
            continue

        def seeding(*args: Any, _key: str = key, _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
            seeded.add(_key)
            return _original(*args, **kwargs)

        setattr(module, attribute, seeding)
        patched.append((module, attribute, original))
    try:
        yield seeded
    finally:
        for module, attribute, original in patched:
            setattr(module, attribute, original)


def fresh_random_state(kept: Set[str], python_state: Any) -> None:
    """After a fork: every runner draws its own random numbers, except from the generators
    setup() seeded (those continue as setup() left them). Python's `random` is reseeded by
    os.fork itself."""
    import random

    if "random" in kept:
        random.setstate(python_state)
    numpy = sys.modules.get("numpy")
    if numpy is not None and "numpy" not in kept and hasattr(numpy, "random"):
        numpy.random.seed()
    torch = sys.modules.get("torch")
    if torch is not None and "torch" not in kept and hasattr(torch, "seed"):
        torch.seed()


def _die_with_parent(parent: int) -> None:
    """A runner never outlives its template (without a sandbox, whose process namespace
    already ends with it): the template is what reports its exit."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)  # the template died before the line above took effect


def _connect(path: str, token: str, channel: str) -> socket.socket:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.connect(path)
    connection.sendall(("KILN-RUNNER %s %s\n" % (token, channel)).encode())
    return connection


class Template:
    def __init__(self, user: UserCode, cls: type, reader: FrameReader, writer: FrameWriter, known_fds: Dict[int, str]) -> None:
        self.user = user
        self.cls = cls
        self.reader = reader
        self.writer = writer
        self.known_fds = known_fds
        self.children: Dict[int, str] = {}
        self.instance: Any = None  # the app, set up by a snapshot
        self.seeded: Set[str] = set()
        self._random_state: Any = None
        # The next runner, forked ahead: its pid and the pipe its order goes down.
        self._spare: Optional["tuple[int, int]"] = None
        self._forked_once = False

    def run(self) -> int:
        hazards = fork_hazards(self.known_fds)
        self.writer.send(
            {"type": "template", "forkable": not hazards, "reason": _reason("the app's imports", hazards), "pid": os.getpid()}
        )
        if hazards:
            return 0
        self._wakeup_read, self._wakeup_write = signals_to_pipe((signal.SIGCHLD, signal.SIGTERM, signal.SIGINT))
        # Descriptors the template opens from here on are its own, not the app's.
        self.known_fds = open_fds()
        # Loaded now, once, so that no runner pays for it.
        import kiln_harness.server  # noqa: F401
        if sys.platform.startswith("linux"):
            import ctypes  # noqa: F401
        frames_fd = self.reader.fd
        while True:
            ready = _select([frames_fd, self._wakeup_read])
            if self._wakeup_read in ready:
                if self._signalled():
                    break
            if frames_fd in ready and not self._handle_frames():
                break
        return 0

    def _handle_frames(self) -> bool:
        """Handles one read's worth of frames (several fork orders may come at once), then forks
        the next runner ahead; False to stop."""
        while True:
            message = self._read()
            if message is EOF or not self._handle(message):
                return False
            if not self.reader.has_frame():
                self._ensure_spare()
                return True

    def _read(self) -> Any:
        try:
            return self.reader.read()
        except ValueError as error:  # jsonlimits turns a RecursionError into one too
            sys.stderr.write("kiln template: ignoring a frame that cannot be read (%s)\n" % error)
            return {}

    def _signalled(self) -> bool:
        """Reaps runners that exited; True when a stop signal came."""
        try:
            caught = os.read(self._wakeup_read, 512)
        except BlockingIOError:
            caught = b""
        self._reap()
        return any(signum in caught for signum in (signal.SIGTERM, signal.SIGINT))

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if self._spare is not None and self._spare[0] == pid:
                os.close(self._spare[1])  # a spare that died unused: the next order forks anew
                self._spare = None
            runner = self.children.pop(pid, None)
            if runner is None:
                continue
            code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
            signal_name = signal.Signals(os.WTERMSIG(status)).name if os.WIFSIGNALED(status) else None
            self.writer.send({"type": "runner-exit", "runner": runner, "code": code, "signal": signal_name})

    def _handle(self, message: Any) -> bool:
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "fork":
            self._fork(message)
        elif kind == "kill":
            pid = next((pid for pid, runner in self.children.items() if runner == message.get("runner")), None)
            if pid is not None:
                try:
                    os.kill(pid, getattr(signal, str(message.get("signal")), signal.SIGKILL))
                except ProcessLookupError:
                    pass
        elif kind == "snapshot":
            return self._snapshot()
        elif kind == "shutdown":
            return False
        else:
            sys.stderr.write("kiln template: ignoring an unknown frame %.200r\n" % (message,))
        return True

    def _snapshot(self) -> bool:
        """setup() here, once, so runners start with it done. False (stop) when it cannot be
        forked afterwards: the runtime starts a template without the snapshot instead."""
        import inspect
        import random

        from kiln_harness.served_app import create_instance

        if inspect.iscoroutinefunction(self.cls.setup):
            reason = "setup() is async, and runs on an event loop thread, which a fork cannot copy"
            self.writer.send({"type": "snapshot", "ok": False, "reason": reason, "setupMs": 0})
            return False
        returned: List[Any] = []
        with recording_seeds() as seeded:
            # A failure is the app's own: the worker's main reports it, with its line.
            instance, setup_ms = create_instance(self.cls, self.user, lambda setup: returned.append(setup()))
        hazards = fork_hazards(self.known_fds)
        if returned and hasattr(returned[0], "__await__"):
            getattr(returned[0], "close", lambda: None)()
            hazards.append("returned an awaitable (async code behind a plain setup()), which needs an event loop thread")
        self.writer.send({"type": "snapshot", "ok": not hazards, "reason": _reason("setup()", hazards), "setupMs": round(setup_ms, 3)})
        if hazards:
            return False
        self.instance = instance
        self.seeded = seeded
        self._random_state = random.getstate()
        return True

    def _fork(self, order: Dict[str, Any]) -> None:
        """Every order is answered: `forked`, or the runner's exit when it cannot be started, so
        the runtime never waits on a runner that does not exist."""
        runner = order.get("runner")
        if not isinstance(runner, str):
            sys.stderr.write("kiln template: ignoring a fork order without a runner id\n")
            return
        try:
            if not isinstance(order.get("token"), str) or not isinstance(order.get("socket"), str):
                raise ValueError("the order names no token and socket")
            pid = self._start_child(json.dumps(order).encode())
        except (OSError, ValueError) as error:
            sys.stderr.write("kiln template: could not fork runner %s (%s)\n" % (runner, error))
            self.writer.send({"type": "runner-exit", "runner": runner, "code": None, "signal": None})
            return
        self.children[pid] = runner
        self.writer.send({"type": "forked", "runner": runner, "pid": pid})

    def _start_child(self, order: bytes) -> int:
        """A child that runs `order`: the spare forked ahead, while it lives, else a new fork."""
        if self._spare is not None:
            pid, orders = self._spare
            self._spare = None
            try:
                _write_all(orders, order)
                return pid
            except BrokenPipeError:
                pass  # the spare died unused; it is reaped with the others
            finally:
                os.close(orders)
        pid, orders = self._fork_child()
        try:
            _write_all(orders, order)
        finally:
            os.close(orders)
        return pid

    def _ensure_spare(self) -> None:
        """Forks the next runner ahead of its order: it waits, having run nothing, until an order
        gives it its identity, so a cold start does not wait for the fork (tens of ms for a
        process that holds torch). A fork that fails here is tried again at the next order."""
        if self._spare is not None or not self._forked_once:
            return
        try:
            self._spare = self._fork_child()
        except OSError as error:
            sys.stderr.write("kiln template: could not fork ahead (%s)\n" % error)

    def _fork_child(self) -> "tuple[int, int]":
        """A child that waits for its order on a pipe; (its pid, the pipe's write end)."""
        self._forked_once = True
        orders_read, orders_write = os.pipe()
        parent = os.getpid()
        random_state = self._random_state
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(orders_write)
                code = self._become_runner(orders_read, parent, random_state)
            except BaseException:
                traceback.print_exc()
            finally:
                exit_now(code)
        os.close(orders_read)
        return pid, orders_write

    def _become_runner(self, orders: int, parent: int, random_state: Any) -> int:
        """In the forked child: shed the template's descriptors and signal handling, wait for the
        order, take the runner's own identity (channels, environment, random state), then serve."""
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
        for fd in (self.reader.fd, self.writer.fd, self._wakeup_read, self._wakeup_write):
            os.close(fd)
        self.reader.discard_buffered()  # orders for other runners, their tokens among them
        _die_with_parent(parent)
        order = _read_order(orders)
        if order is None:
            return 0  # the template stopped before this child had work
        path, token = order["socket"], order["token"]
        for fd, channel in ((1, "stdout"), (2, "stderr")):
            stream = _connect(path, token, channel)
            os.dup2(stream.fileno(), fd)
            stream.close()
        # The runner speaks on fds 3 and 4, as a runner started afresh does.
        frames = _connect(path, token, "frames").detach()
        for fd in (3, 4):
            if frames != fd:
                # Not inherited by what the app executes, which would hold the connection open.
                os.dup2(frames, fd, inheritable=False)
            else:
                os.set_inheritable(fd, False)
        if frames not in (3, 4):
            os.close(frames)
        env = order.get("env")
        if isinstance(env, dict):
            os.environ.update({str(key): str(value) for key, value in env.items()})
        fresh_random_state(self.seeded, random_state)
        from kiln_harness.server import run_serve

        writer = FrameWriter(4)
        try:
            return run_serve(self.user, self.cls, FrameReader(3), writer, instance=self.instance)
        except BaseException as exc:
            report_error(writer, self.user, "setup", exc)
        finally:
            writer.close()
        return 1


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_order(fd: int) -> Optional[Dict[str, Any]]:
    """The order the template writes down the pipe and closes; None when it closed it empty."""
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return json.loads(b"".join(chunks)) if chunks else None


def _reason(what: str, hazards: List[str]) -> Optional[str]:
    return "%s %s" % (what, "; ".join(hazards)) if hazards else None


def _select(fds: List[int]) -> List[int]:
    while True:
        try:
            return select.select(fds, [], [])[0]
        except InterruptedError:
            continue


def run_template(user: UserCode, cls: type, reader: FrameReader, writer: FrameWriter, known_fds: Dict[int, str]) -> int:
    return Template(user, cls, reader, writer, known_fds).run()
