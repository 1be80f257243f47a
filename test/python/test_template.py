"""Template mode (src/runtime/python/kiln_harness/template.py) as the runtime sees it: a real
template process, runners forked from it connecting back to a real Unix socket, against the
small apps in test/fixtures/apps.

Run: python3 -m unittest discover -s test/python -v
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import sys
import tempfile
import time
import unittest
from typing import Any, Dict, Optional

from test_worker import APPS, take_frame, Worker, WorkerTestCase

LINUX = sys.platform.startswith("linux")


class RunnerConnection:
    """A forked runner's three connections, as the runtime accepts them."""

    def __init__(self, listener: socket.socket, token: str) -> None:
        self.channels: Dict[str, socket.socket] = {}
        self.rest: Dict[str, bytes] = {}
        while len(self.channels) < 3:
            connection, _ = listener.accept()
            connection.settimeout(15)
            hello = b""
            while b"\n" not in hello:
                chunk = connection.recv(256)
                if not chunk:
                    raise AssertionError("a runner connection closed before its first line")
                hello += chunk
            line, _, rest = hello.partition(b"\n")
            magic, given, channel = line.decode().split(" ")
            assert (magic, given) == ("KILN-RUNNER", token), line
            self.channels[channel] = connection
            self.rest[channel] = rest
        self._buffer = bytearray(self.rest["frames"])
        self._next_id = 0

    def send(self, message: Dict[str, Any]) -> None:
        payload = json.dumps(message).encode()
        self.channels["frames"].sendall(struct.pack(">I", len(payload)) + payload)

    def recv(self) -> Optional[Dict[str, Any]]:
        while True:
            frame = take_frame(self._buffer)
            if frame is not None:
                return frame
            chunk = self.channels["frames"].recv(1 << 16)
            if not chunk:
                return None
            self._buffer += chunk

    def ready(self) -> Dict[str, Any]:
        frames = [self.recv(), self.recv()]
        assert [frame and frame["type"] for frame in frames] == ["setup-started", "ready"], frames
        return frames[1]  # type: ignore[return-value]

    def invoke(self, path: str, data: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        self._next_id += 1
        request_id = "req-%d" % self._next_id
        self.send({"type": "invoke", "id": request_id, "path": path, "input": data or {}})
        frame = self.recv()
        assert frame is not None and frame.get("id") == request_id, frame
        return frame

    def output(self, channel: str = "stdout") -> str:
        """What the runner printed, once it has exited."""
        data = self.rest[channel]
        while True:
            chunk = self.channels[channel].recv(1 << 16)
            if not chunk:
                return data.decode()
            data += chunk

    def close(self) -> None:
        for connection in self.channels.values():
            connection.close()


@unittest.skipUnless(LINUX, "templates fork, and judge a process by Linux's /proc")
class TemplateTestCase(WorkerTestCase):
    def setUp(self) -> None:
        self.forked_pids: Dict[str, int] = {}

    def template(self, app: str, env: Optional[Dict[str, str]] = None) -> Worker:
        class_name = {
            "hello.py": "HelloWorld", "thread_at_import.py": "ThreadAtImport", "file_at_import.py": "FileAtImport",
            "cuda_at_import.py": "CudaAtImport", "snapshot_app.py": "SnapshotApp",
        }[app]
        worker = self.start(app, mode="template", class_name=class_name, env=env)
        inspected = worker.recv()
        self.assertEqual(inspected["type"], "inspect", worker.logs())
        return worker

    def verdict(self, worker: Worker) -> Dict[str, Any]:
        frame = worker.recv()
        self.assertEqual(frame["type"], "template", worker.logs())
        return frame

    def listener(self) -> socket.socket:
        folder = tempfile.mkdtemp(prefix="kiln-sock-")
        self.addCleanup(shutil.rmtree, folder, True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(os.path.join(folder, "t.sock"))
        listener.listen(16)
        listener.settimeout(15)
        self.addCleanup(listener.close)
        return listener

    def fork(self, worker: Worker, listener: socket.socket, runner: str, env: Optional[Dict[str, str]] = None) -> RunnerConnection:
        token = os.urandom(16).hex()
        worker.send({"type": "fork", "runner": runner, "token": token, "socket": listener.getsockname(), "env": env or {}})
        connection = RunnerConnection(listener, token)
        self.addCleanup(connection.close)
        forked = worker.recv()
        self.assertEqual(forked, {"type": "forked", "runner": runner, "pid": forked["pid"]})
        self.forked_pids[runner] = forked["pid"]
        return connection

    def exit_of(self, worker: Worker, runner: str) -> Dict[str, Any]:
        frame = worker.recv()
        self.assertEqual((frame["type"], frame["runner"]), ("runner-exit", runner), frame)
        return frame


class ForkSafetyTest(TemplateTestCase):
    def test_an_app_that_only_imports_can_be_forked(self) -> None:
        worker = self.template("hello.py")
        self.assertEqual(self.verdict(worker), {"type": "template", "forkable": True, "reason": None, "pid": worker.process.pid})

    def test_a_thread_started_at_import_is_named(self) -> None:
        worker = self.template("thread_at_import.py")
        verdict = self.verdict(worker)
        self.assertFalse(verdict["forkable"])
        self.assertEqual(verdict["reason"], "the app's imports started thread poller")
        self.assertEqual(worker.wait(), 0, "a template that cannot fork has nothing more to do")

    def test_a_file_left_open_at_import_is_named(self) -> None:
        verdict = self.verdict(self.template("file_at_import.py"))
        self.assertFalse(verdict["forkable"])
        self.assertIn("left open %s" % (APPS / "file_at_import.py"), verdict["reason"])

    def test_a_loaded_cuda_driver_is_caught(self) -> None:
        # Any shared library will do: what is judged is a library named like the driver in the process's maps.
        folder = tempfile.mkdtemp(prefix="kiln-cuda-")
        self.addCleanup(shutil.rmtree, folder, True)
        fake = os.path.join(folder, "libcuda.so.1")
        shutil.copy(_a_shared_library(), fake)
        verdict = self.verdict(self.template("cuda_at_import.py", env={"KILN_TEST_FAKE_CUDA": fake}))
        self.assertFalse(verdict["forkable"])
        self.assertIn("initialized CUDA", verdict["reason"])


class ForkTest(TemplateTestCase):
    def test_forked_runners_serve_with_their_own_identity_and_output(self) -> None:
        worker = self.template("hello.py")
        self.verdict(worker)
        listener = self.listener()
        for index in range(2):
            runner = "hello-r1-%06d" % index
            connection = self.fork(worker, listener, runner, env={"KILN_RUNNER_ID": runner, "CUDA_VISIBLE_DEVICES": ""})
            connection.ready()
            self.assertEqual(connection.invoke("/")["output"], {"message": "Hello, world!"})
            self.assertEqual(connection.invoke("/echo", {"text": runner})["output"], {"text": runner})
            connection.send({"type": "shutdown", "graceMs": 1000})
            self.assertEqual(self.exit_of(worker, runner), {"type": "runner-exit", "runner": runner, "code": 0, "signal": None})
            self.assertEqual(connection.output(), "echo called with %s\n" % runner, "its prints on its own stdout")
        self.assertEqual(worker.logs(), "", "the template itself printed nothing")

    def test_the_next_runner_is_forked_before_its_order(self) -> None:
        worker = self.template("hello.py")
        self.verdict(worker)
        listener = self.listener()
        first = self.fork(worker, listener, "r-first")
        first.ready()
        children = "/proc/%d/task/%d/children" % (worker.process.pid, worker.process.pid)
        deadline = time.monotonic() + 10
        spares: "list[int]" = []
        while not spares and time.monotonic() < deadline:
            with open(children) as listing:
                spares = [int(pid) for pid in listing.read().split()]
            spares = [pid for pid in spares if pid != self.forked_pids["r-first"]]
            time.sleep(0.01)
        self.assertEqual(len(spares), 1, "one child waits for the next order")
        second = self.fork(worker, listener, "r-second")
        self.assertEqual(self.forked_pids["r-second"], spares[0], "the order went to the child forked ahead")
        second.ready()
        self.assertEqual(second.invoke("/echo", {"text": "ahead"})["output"], {"text": "ahead"})

    def test_an_order_that_cannot_be_carried_out_is_answered_with_the_runners_exit(self) -> None:
        worker = self.template("hello.py")
        self.verdict(worker)
        worker.send({"type": "fork", "runner": "r-broken", "env": {}})
        self.assertEqual(self.exit_of(worker, "r-broken"), {"type": "runner-exit", "runner": "r-broken", "code": None, "signal": None})
        deadline = time.monotonic() + 10
        while "could not fork runner r-broken" not in worker.logs() and time.monotonic() < deadline:
            time.sleep(0.01)  # the line was written before the frame, but is read by another thread
        self.assertIn("could not fork runner r-broken", worker.logs())

    def test_a_runner_killed_through_the_template_is_reported_with_its_signal(self) -> None:
        worker = self.template("hello.py")
        self.verdict(worker)
        connection = self.fork(worker, self.listener(), "r-kill")
        connection.ready()
        worker.send({"type": "kill", "runner": "r-kill", "signal": "SIGKILL"})
        self.assertEqual(self.exit_of(worker, "r-kill"), {"type": "runner-exit", "runner": "r-kill", "code": None, "signal": "SIGKILL"})

    def test_runners_end_with_their_template(self) -> None:
        worker = self.template("hello.py")
        self.verdict(worker)
        connection = self.fork(worker, self.listener(), "r-orphan")
        connection.ready()
        worker.process.kill()
        worker.wait()
        deadline = time.monotonic() + 10
        # The runner's connections close when it dies (parent-death signal).
        while connection.recv() is not None and time.monotonic() < deadline:
            pass
        self.assertIsNone(connection.recv())


class SnapshotTest(TemplateTestCase):
    def snapshot(self, env: Optional[Dict[str, str]] = None) -> "tuple[Worker, Dict[str, Any]]":
        worker = self.template("snapshot_app.py", env=env)
        self.assertTrue(self.verdict(worker)["forkable"])
        worker.send({"type": "snapshot"})
        frame = worker.recv()
        self.assertEqual(frame["type"], "snapshot", worker.logs())
        return worker, frame

    def states(self, worker: Worker, count: int = 2) -> "list[Dict[str, Any]]":
        listener = self.listener()
        states = []
        for index in range(count):
            connection = self.fork(worker, listener, "r%d" % index, env={"KILN_RUNNER_ID": "r%d" % index})
            connection.ready()
            states.append(connection.invoke("/state")["output"])
        return states

    def test_runners_start_with_setup_done_and_their_own_random_numbers(self) -> None:
        worker, snapshot = self.snapshot()
        self.assertEqual((snapshot["ok"], snapshot["reason"]), (True, None))
        first, second = self.states(worker)
        self.assertEqual(first["setup_pid"], worker.process.pid, "setup() ran once, in the template")
        self.assertNotIn(first["pid"], (second["pid"], worker.process.pid))
        self.assertEqual(first["model"], second["model"], "both start from the same snapshot")
        self.assertNotEqual(first["random"], second["random"], "each runner draws its own random numbers")
        self.assertEqual([first["runner"], second["runner"]], ["r0", "r1"])
        self.assertEqual(worker.logs().count("setup ran in pid"), 1)

    def test_a_seed_set_in_setup_holds_in_every_runner(self) -> None:
        worker, snapshot = self.snapshot({"SEED_IN_SETUP": "1"})
        self.assertTrue(snapshot["ok"], snapshot)
        import random

        random.seed(7)
        expected = random.random()
        self.assertEqual([state["random"] for state in self.states(worker)], [expected, expected],
                         "as in two fresh processes that each ran setup()")

    def test_a_thread_started_by_setup_refuses_the_snapshot(self) -> None:
        worker, snapshot = self.snapshot({"THREAD_IN_SETUP": "1"})
        self.assertEqual((snapshot["ok"], snapshot["reason"]), (False, "setup() started thread heartbeat"))
        self.assertEqual(worker.wait(), 0, "the runtime starts a template without the snapshot instead")

    def test_a_file_left_open_by_setup_refuses_the_snapshot(self) -> None:
        worker, snapshot = self.snapshot({"FILE_IN_SETUP": "1"})
        self.assertFalse(snapshot["ok"])
        self.assertIn("setup() left open %s" % (APPS / "snapshot_app.py"), snapshot["reason"])

    def test_a_failing_setup_is_reported_at_its_line(self) -> None:
        worker = self.template("snapshot_app.py", env={"FAIL_IN_SETUP": "1"})
        self.verdict(worker)
        worker.send({"type": "snapshot"})
        failed = worker.recv()
        self.assertEqual((failed["type"], failed["phase"]), ("failed", "setup"), failed)
        self.assertEqual((failed["error"]["file"], failed["error"]["message"]), (str(APPS / "snapshot_app.py"), "no weights here"))
        self.assertEqual(worker.wait(), 1)


def _a_shared_library() -> str:
    """A real shared library of this system (the C math library)."""
    for folder in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib64", "/lib64"):
        candidate = os.path.join(folder, "libm.so.6")
        if os.path.exists(candidate):
            return candidate
    raise AssertionError("libm.so.6 not found in the usual folders")


if __name__ == "__main__":
    unittest.main()
