"""The Python worker (src/runtime/python/kiln_worker.py) as the runtime sees it: a real
subprocess speaking length-prefixed JSON frames on fds 3 and 4, against the small apps in
test/fixtures/apps.

Run: python3 -m unittest discover -s test/python -v
"""
from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "src" / "runtime" / "python"
WORKER = HARNESS / "kiln_worker.py"
APPS = ROOT / "test" / "fixtures" / "apps"
FILES_URL = "http://127.0.0.1:9/files"


def _has(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def take_frame(buffer: bytearray) -> Optional[Dict[str, Any]]:
    """The first whole frame in `buffer`, taken out of it; None until one has arrived whole."""
    if len(buffer) < 4:
        return None
    (size,) = struct.unpack(">I", buffer[:4])
    if len(buffer) < 4 + size:
        return None
    payload = bytes(buffer[4 : 4 + size])
    del buffer[: 4 + size]
    return json.loads(payload)


class Worker:
    """One worker process, with the runtime's ends of its pipes."""

    def __init__(
        self,
        app: str,
        mode: str = "serve",
        class_name: Optional[str] = None,
        env: Optional[Dict[str, str]] = None,
        command: Optional[List[str]] = None,
    ) -> None:
        self.files_dir = tempfile.mkdtemp(prefix="kiln-files-")
        self.marker = os.path.join(self.files_dir, "marker")
        to_worker_read, self.to_worker = os.pipe()
        self.from_worker, from_worker_write = os.pipe()
        # Above 4, so placing them at 3 and 4 in the child cannot overwrite one another.
        child_read = fcntl.fcntl(to_worker_read, fcntl.F_DUPFD_CLOEXEC, 10)
        child_write = fcntl.fcntl(from_worker_write, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_worker_read)
        os.close(from_worker_write)

        def place_fds() -> None:
            os.dup2(child_read, 3)
            os.dup2(child_write, 4)

        if command is None:
            command = [sys.executable, "-u", "-X", "utf8", str(WORKER), "--mode", mode, "--app-file", str(APPS / app)]
            if class_name:
                command += ["--class", class_name]
        full_env = dict(os.environ)
        full_env.update(
            {
                "PYTHONPATH": str(HARNESS),
                "KILN_FILES_DIR": self.files_dir,
                "KILN_FILES_URL": FILES_URL,
                "KILN_TEST_MARKER": self.marker,
                "KILN_RUNNER_ID": "test-runner",
                "KILN_APP_NAME": "test-app",
            }
        )
        full_env.update(env or {})
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            close_fds=False,  # our other fds are close-on-exec anyway; 3 and 4 must survive
            preexec_fn=place_fds,
            env=full_env,
        )
        os.close(child_read)
        os.close(child_write)
        self._buffer = bytearray()
        self._stashed: List[Dict[str, Any]] = []
        self.stdout: List[bytes] = []
        self.stderr: List[bytes] = []
        self._pumps = [
            threading.Thread(target=self._pump, args=(self.process.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._pump, args=(self.process.stderr, self.stderr), daemon=True),
        ]
        for pump in self._pumps:
            pump.start()
        self._next_id = 0

    @staticmethod
    def _pump(stream: Any, sink: List[bytes]) -> None:
        for line in iter(stream.readline, b""):
            sink.append(line)

    def logs(self) -> str:
        return (b"".join(self.stdout) + b"".join(self.stderr)).decode("utf-8", "replace")

    def send(self, message: Dict[str, Any]) -> None:
        self.send_raw(self.frame(message))

    @staticmethod
    def frame(message: Dict[str, Any]) -> bytes:
        payload = json.dumps(message).encode()
        return struct.pack(">I", len(payload)) + payload

    def send_raw(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.to_worker, view) :]

    def recv(self, timeout: float = 15.0) -> Optional[Dict[str, Any]]:
        """The next frame (one set aside by result_for first), or None at EOF."""
        if self._stashed:
            return self._stashed.pop(0)
        return self._read_frame(timeout)

    def _read_frame(self, timeout: float) -> Optional[Dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            frame = take_frame(self._buffer)
            if frame is not None:
                return frame
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_worker], [], [], left)[0]:
                raise AssertionError("no frame from the worker within %ss; its output:\n%s" % (timeout, self.logs()))
            chunk = os.read(self.from_worker, 1 << 16)
            if not chunk:
                return None
            self._buffer += chunk

    def result_for(self, request_id: str, timeout: float = 15.0) -> Dict[str, Any]:
        for index, frame in enumerate(self._stashed):
            if frame.get("id") == request_id:
                return self._stashed.pop(index)
        deadline = time.monotonic() + timeout
        while True:
            frame = self._read_frame(max(0.01, deadline - time.monotonic()))
            if frame is None:
                raise AssertionError("worker closed its pipe; its output:\n" + self.logs())
            if frame.get("id") == request_id:
                return frame
            self._stashed.append(frame)

    def submit(self, path: str, data: Optional[Dict[str, Any]] = None) -> str:
        self._next_id += 1
        request_id = "req-%d" % self._next_id
        self.send({"type": "invoke", "id": request_id, "path": path, "input": data if data is not None else {}})
        return request_id

    def invoke(self, path: str, data: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        return self.result_for(self.submit(path, data))

    def ready(self) -> Dict[str, Any]:
        started = self.recv()
        assert started is not None and started["type"] == "setup-started", "expected setup-started, got %r\n%s" % (started, self.logs())
        frame = self.recv()
        assert frame is not None and frame["type"] == "ready", "expected ready, got %r\n%s" % (frame, self.logs())
        return frame

    def wait(self, timeout: float = 15.0) -> int:
        """The exit code, once the process and its output have ended."""
        code = self.process.wait(timeout)
        for pump in self._pumps:
            pump.join(5)
        return code

    def end_input(self) -> None:
        """Close the runtime's end of fd 3: the worker reads EOF."""
        if self.to_worker >= 0:
            os.close(self.to_worker)
            self.to_worker = -1

    def close(self) -> None:
        self.end_input()
        try:
            os.close(self.from_worker)
        except OSError:
            pass
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pump in self._pumps:
            pump.join(5)
        self.process.stdout.close()
        self.process.stderr.close()
        shutil.rmtree(self.files_dir, ignore_errors=True)


class WorkerTestCase(unittest.TestCase):
    def start(self, app: str, **kwargs: Any) -> Worker:
        worker = Worker(app, **kwargs)
        self.addCleanup(worker.close)
        return worker

    def serve(self, app: str, **kwargs: Any) -> Worker:
        worker = self.start(app, **kwargs)
        worker.ready()
        return worker

    def inspect_one(self, app: str) -> Dict[str, Any]:
        """A template's first answer: what the file's classes declare."""
        worker = self.start(app, mode="template")
        frame = worker.recv()
        self.assertEqual(frame["type"], "inspect", worker.logs())
        worker.end_input()
        self.assertEqual(worker.wait(), 0)
        return frame

    def failure(self, app: str, mode: str = "serve", **kwargs: Any) -> Dict[str, Any]:
        worker = self.start(app, mode=mode, **kwargs)
        frame = worker.recv()
        if frame is not None and frame["type"] == "setup-started":
            # Only a failure in setup() itself comes after the app imported and its class was found.
            frame = worker.recv()
            self.assertEqual(frame["phase"], "setup", frame)
        self.assertEqual(frame["type"], "failed", frame)
        self.assertEqual(worker.wait(), 1)
        return frame

    def file_behind(self, worker: Worker, url: str) -> bytes:
        self.assertTrue(url.startswith(FILES_URL + "/"), url)
        name = url[len(FILES_URL) + 1 :]
        self.assertEqual(name, urllib.parse.quote(name), "stored names need no escaping")
        with open(os.path.join(worker.files_dir, name), "rb") as stored:
            return stored.read()


class CompatPackageTest(unittest.TestCase):
    """The pieces with no process around them: the fal package and the harness helpers."""

    @classmethod
    def setUpClass(cls) -> None:
        if str(HARNESS) not in sys.path:
            sys.path.insert(0, str(HARNESS))

    def test_app_names_in_kebab_case(self) -> None:
        from kiln_harness.inspector import kebab_case

        cases = {
            "TextToImage": "text-to-image",
            "Gpt2App": "gpt2-app",
            "SDXLTurbo": "sdxl-turbo",
            "SD3Medium": "sd3-medium",
            "My_App": "my-app",
            "app": "app",
        }
        self.assertEqual({name: kebab_case(name) for name in cases}, cases)

    def test_fal_guards(self) -> None:
        import fal

        def generate(self):
            return {}

        fal.endpoint("/a")(generate)
        with self.assertRaisesRegex(ValueError, "multiple routes"):
            fal.endpoint("/b")(generate)

        class Recorded(fal.App, keep_alive=1, unknown_option="kept"):
            pass

        self.assertEqual(Recorded._kiln_class_keywords, {"keep_alive": 1, "unknown_option": "kept"})
        with self.assertRaises(NotImplementedError):
            Recorded()
        self.assertIsInstance(Recorded(_allow_init=True), fal.App)

    def test_png_encoder(self) -> None:
        import zlib

        from fal.toolkit.image import encode_png, sniff_image

        pixels = bytes(range(2 * 3 * 3))
        png = encode_png(3, 2, pixels)
        self.assertEqual(sniff_image(png), ("png", 3, 2))
        chunks, position = {}, 8
        while position < len(png):
            (length,) = struct.unpack(">I", png[position : position + 4])
            tag = png[position + 4 : position + 8]
            body = png[position + 8 : position + 8 + length]
            (crc,) = struct.unpack(">I", png[position + 8 + length : position + 12 + length])
            self.assertEqual(crc, zlib.crc32(tag + body) & 0xFFFFFFFF)
            chunks[tag] = body
            position += 12 + length
        self.assertEqual(list(chunks), [b"IHDR", b"IDAT", b"IEND"])
        rows = zlib.decompress(chunks[b"IDAT"])
        self.assertEqual(rows, b"\x00" + pixels[:9] + b"\x00" + pixels[9:])
        with self.assertRaisesRegex(ValueError, "expected 18 bytes"):
            encode_png(3, 2, pixels[:-1])

    def test_refs_are_inlined_and_recursion_kept(self) -> None:
        from kiln_harness.schema import inline_refs

        schema = {
            "type": "object",
            "properties": {
                "size": {"allOf": [{"$ref": "#/definitions/Size"}], "description": "how big"},
                "tree": {"$ref": "#/$defs/Node"},
            },
            "definitions": {"Size": {"type": "object", "properties": {"w": {"type": "integer"}}}},
            "$defs": {
                "Node": {
                    "type": "object",
                    "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
                }
            },
        }
        inlined = inline_refs(schema)
        self.assertEqual(
            inlined["properties"]["size"],
            {"type": "object", "properties": {"w": {"type": "integer"}}, "description": "how big"},
        )
        self.assertEqual(inlined["properties"]["tree"]["properties"]["children"]["items"], {"$ref": "#/$defs/Node"})
        self.assertEqual(list(inlined["$defs"]), ["Node"])
        self.assertNotIn("definitions", inlined)


class InspectTest(WorkerTestCase):
    def test_hello_options_endpoints_and_methods(self) -> None:
        frame = self.inspect_one("hello.py")
        self.assertEqual(frame["file"], str(APPS / "hello.py"))
        (app,) = frame["apps"]
        self.assertEqual(app["className"], "HelloWorld")
        self.assertEqual(app["line"], 4)
        self.assertEqual(app["defaultName"], "hello")
        options = {(o["key"], o["source"]): o["value"] for o in app["options"]}
        self.assertEqual(
            options,
            {
                ("keep_alive", "keyword"): 300,
                ("name", "keyword"): "hello",
                ("min_concurrency", "keyword"): 0,
                ("machine_type", "attribute"): "S",
                ("requirements", "attribute"): ["requests>=2"],
                ("max_multiplexing", "attribute"): 2,
                ("volumes", "attribute"): {"/data": {"$volume": "hello-cache"}},
                ("env", "attribute"): {"GREETING": "hi"},
                ("pair", "attribute"): [1, 2],
            },
        )
        self.assertEqual(app["methods"], ["setup", "greet", "echo", "helper"])
        greet, echo = app["endpoints"]
        self.assertEqual(
            greet,
            {
                "path": "/",
                "functionName": "greet",
                "parameters": [
                    {"name": "name", "annotation": "str", "hasDefault": True},
                    {"name": "times", "annotation": "int", "hasDefault": True},
                ],
                "isAsync": False,
                "line": 17,
                "inputSchema": {
                    "title": "greet",
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "default": "world"},
                        "times": {"type": "integer", "default": 1},
                    },
                    "additionalProperties": False,
                },
            },
        )
        self.assertEqual(echo["inputSchema"]["required"], ["text"])
        self.assertEqual(echo["line"], 21)

    def test_inherited_options_and_value_encodings(self) -> None:
        base, typed = self.inspect_one("typed_app.py")["apps"]
        self.assertEqual((base["className"], base["defaultName"]), ("Base", "base-name"))
        self.assertEqual(typed["defaultName"], "typed", "name= names only the class that says it")
        self.assertEqual(
            [(o["key"], o["source"], o["value"]) for o in typed["options"]],
            [
                ("keep_alive", "keyword", 5),
                ("request_timeout", "keyword", 30),
                ("max_concurrency", "attribute", 3),
                ("machine_type", "attribute", ["GPU-A100", "GPU-H100"]),
                ("volumes", "attribute", {"/models": {"$volume": "weights"}}),
                ("created", "attribute", {"$repr": "datetime.date(2024, 1, 2)"}),
            ],
        )
        self.assertEqual(typed["methods"], ["computed", "helper", "types", "kw"])
        self.assertEqual(base["methods"], [])

    def test_type_hint_schemas(self) -> None:
        app = self.inspect_one("typed_app.py")["apps"][1]
        types_endpoint, kw = app["endpoints"]
        annotations = {p["name"]: p["annotation"] for p in types_endpoint["parameters"]}
        self.assertEqual(annotations["maybe"], "int | None")
        self.assertEqual(annotations["weights"], "Dict[str, float]")
        self.assertIsNone(annotations["untyped"])
        schema = types_endpoint["inputSchema"]
        props = schema["properties"]
        self.assertEqual(schema["required"], ["prompt", "count", "scale", "flag", "tags", "weights"])
        self.assertEqual(props["scale"], {"type": "number"})
        self.assertEqual(props["flag"], {"type": "boolean"})
        self.assertEqual(props["tags"], {"type": "array", "items": {"type": "string"}})
        self.assertEqual(props["weights"], {"type": "object", "additionalProperties": {"type": "number"}})
        self.assertEqual(props["mode"], {"enum": ["fast", "slow"], "type": "string", "default": "fast"})
        self.assertEqual(props["note"], {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None})
        if sys.version_info >= (3, 10):  # `int | None` cannot be evaluated before 3.10
            self.assertEqual(props["maybe"], {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None})
        self.assertEqual(
            props["pair"],
            {
                "type": "array",
                "prefixItems": [{"type": "integer"}, {"type": "string"}],
                "minItems": 2,
                "maxItems": 2,
                "default": [1, "a"],
            },
        )
        self.assertEqual(props["many"], {"type": "array", "items": {"type": "integer"}, "default": []})
        self.assertEqual(props["color"], {"enum": ["red", "blue"], "type": "string"})  # an Enum default is not JSON
        self.assertEqual(props["anything"], {"default": None})
        self.assertEqual(props["untyped"], {"default": 3})
        self.assertEqual(props["nested"]["items"], {"type": "array", "items": {"type": "integer"}})
        self.assertTrue(kw["isAsync"])
        self.assertEqual(kw["parameters"], [{"name": "value", "annotation": '"int"', "hasDefault": False}])
        self.assertEqual(kw["inputSchema"]["properties"], {"value": {"type": "integer"}})
        self.assertNotIn("additionalProperties", kw["inputSchema"], "**extra accepts any other field")

    def test_every_app_class_in_the_file_is_reported(self) -> None:
        apps = self.inspect_one("two_apps.py")["apps"]
        self.assertEqual([a["className"] for a in apps], ["First", "Second"])
        self.assertEqual([a["defaultName"] for a in apps], ["first", "second"])
        self.assertEqual(apps[1]["options"], [{"key": "keep_alive", "value": 10, "source": "keyword"}])

    def test_setup_does_not_run_in_a_template(self) -> None:
        (app,) = self.inspect_one("setup_fails.py")["apps"]
        self.assertEqual(app["className"], "Broken")


class ImportFailureTest(WorkerTestCase):
    def test_syntax_error_points_at_the_line(self) -> None:
        for mode in ("template", "serve"):
            frame = self.failure("syntax_error.py", mode=mode)
            self.assertEqual(frame["phase"], "import")
            error = frame["error"]
            self.assertEqual(error["type"], "SyntaxError")
            self.assertEqual((error["file"], error["line"]), (str(APPS / "syntax_error.py"), 6))
            self.assertIn("expected ':'" if sys.version_info >= (3, 10) else "invalid syntax", error["message"])
            self.assertIn("SyntaxError", error["traceback"])

    def test_missing_module_points_at_the_import(self) -> None:
        error = self.failure("missing_module.py", mode="template")["error"]
        self.assertEqual(error["type"], "ModuleNotFoundError")
        self.assertIn("kiln_definitely_not_installed", error["message"])
        self.assertEqual((error["file"], error["line"]), (str(APPS / "missing_module.py"), 3))

    def test_overriding_init_is_refused_at_the_class(self) -> None:
        frame = self.failure("init_override.py", mode="template")
        error = frame["error"]
        self.assertEqual(frame["phase"], "import")
        self.assertEqual(error["type"], "ValueError")
        self.assertEqual(error["message"], "App classes should not override __init__ directly. Use setup() instead.")
        self.assertEqual((error["file"], error["line"]), (str(APPS / "init_override.py"), 4))

    def test_file_without_an_app(self) -> None:
        frame = self.failure("no_app.py", mode="template")
        self.assertEqual(frame["phase"], "find-class")
        self.assertIn("no class in no_app.py subclasses fal.App", frame["error"]["message"])

    def test_several_apps_need_a_class_name_to_serve(self) -> None:
        frame = self.failure("two_apps.py")
        self.assertEqual(frame["phase"], "find-class")
        self.assertIn("First, Second", frame["error"]["message"])
        worker = self.serve("two_apps.py", class_name="Second")
        self.assertEqual(worker.invoke("/")["output"], {"app": "second"})
        missing = self.failure("two_apps.py", class_name="Third")
        self.assertIn("no fal.App subclass named Third", missing["error"]["message"])


class ServeTest(WorkerTestCase):
    def test_ready_then_results(self) -> None:
        worker = self.start("hello.py")
        ready = worker.ready()
        self.assertEqual(ready["pid"], worker.process.pid)
        self.assertEqual(ready["python"], "%d.%d.%d" % sys.version_info[:3])
        self.assertGreaterEqual(ready["setupMs"], 0)
        result = worker.invoke("/", {"name": "Kiln", "times": 2})
        self.assertEqual(result["output"], {"message": "Hello, Kiln! Hello, Kiln!"})
        self.assertTrue(result["ok"])
        self.assertGreaterEqual(result["executionMs"], 0)
        self.assertEqual(worker.invoke("/")["output"], {"message": "Hello, world!"})
        worker.invoke("/echo", {"text": "printed"})
        worker.send({"type": "shutdown", "graceMs": 1000})
        self.assertEqual(worker.wait(), 0)
        self.assertIn("echo called with printed", worker.logs())

    def test_input_errors_have_fal_validation_shape(self) -> None:
        worker = self.serve("hello.py")
        missing = worker.invoke("/echo", {})
        self.assertEqual(missing["status"], 422)
        self.assertEqual(missing["detail"], [{"loc": ["body", "text"], "msg": "Field required", "type": "missing"}])
        extra = worker.invoke("/echo", {"text": "a", "txet": "b"})
        self.assertEqual(extra["status"], 422)
        self.assertEqual(extra["detail"][0]["loc"], ["body", "txet"])
        unknown = worker.invoke("/nowhere")
        self.assertEqual((unknown["status"], unknown["detail"]), (404, "Not Found"))

    def test_local_modules_import(self) -> None:
        worker = self.serve("local_import/app.py")
        self.assertEqual(worker.invoke("/shout", {"text": "hi"})["output"], {"text": "HI!"})

    def test_setup_failure_points_at_the_user_line(self) -> None:
        frame = self.failure("setup_fails.py")
        self.assertEqual(frame["phase"], "setup")
        error = frame["error"]
        self.assertEqual(error["type"], "FileNotFoundError")
        self.assertEqual(error["message"], "no weights at /models/missing.bin")
        self.assertEqual((error["file"], error["line"]), (str(APPS / "setup_fails.py"), 5))
        self.assertIn("self.model = load_weights", error["traceback"])
        self.assertNotIn("kiln_harness", error["traceback"])

    def test_frames_split_and_batched(self) -> None:
        worker = self.serve("hello.py")
        data = worker.frame({"type": "invoke", "id": "split", "path": "/echo", "input": {"text": "é" * 50}})
        for index in range(len(data)):
            worker.send_raw(data[index : index + 1])
            if index % 7 == 0:
                time.sleep(0.001)
        self.assertEqual(worker.result_for("split")["output"], {"text": "é" * 50})
        batch = b"".join(
            worker.frame({"type": "invoke", "id": "b%d" % i, "path": "/echo", "input": {"text": str(i)}})
            for i in range(20)
        )
        worker.send_raw(batch)
        for i in range(20):
            self.assertEqual(worker.result_for("b%d" % i)["output"], {"text": str(i)})

    def test_bad_frames_are_skipped(self) -> None:
        worker = self.serve("hello.py")
        for bad in (b"not json", b"\xff\xfe", b"[1, 2]"):
            worker.send_raw(struct.pack(">I", len(bad)) + bad)
        self.assertEqual(worker.invoke("/echo", {"text": "after"})["output"], {"text": "after"})
        worker.send({"type": "shutdown", "graceMs": 100})
        self.assertEqual(worker.wait(), 0)
        self.assertIn("ignoring a frame that is not JSON", worker.logs())


class CoercionTest(WorkerTestCase):
    """Inputs reach handlers as their annotated types, converted as pydantic's lax mode does."""

    def test_float_parameter_receives_a_float_for_an_int(self) -> None:
        worker = self.serve("coercion_app.py")
        self.assertEqual(worker.invoke("/scale", {"x": 2})["output"], {"float": 2.0})
        self.assertEqual(worker.invoke("/scale", {"x": "2.5"})["output"], {"float": 2.5})

    def test_every_parameter_converted_and_every_problem_reported(self) -> None:
        worker = self.serve("coercion_app.py")
        output = worker.invoke(
            "/mixed",
            {
                "count": "3",
                "flag": "yes",
                "values": [1, "2", True],
                "pair": ["4", 5],
                "weights": {"a": 1},
                "level": "2",
                "maybe": 7,
                "either": "8",
            },
        )["output"]
        self.assertEqual(
            output,
            {
                "count": {"int": 3},
                "flag": {"bool": True},
                "values": {"list": [{"float": 1.0}, {"float": 2.0}, {"float": 1.0}]},
                "pair": {"tuple": [{"int": 4}, {"float": 5.0}]},
                "weights": {"dict": {"a": {"float": 1.0}}},
                "level": {"enum": "Level", "value": 2},
                "mode": {"str": "fast"},
                "maybe": {"float": 7.0},
                "either": {"str": "8"},
            },
        )
        refused = worker.invoke(
            "/mixed",
            {"count": 1.5, "flag": "maybe", "values": [1, "x"], "pair": [1], "weights": [], "level": 3, "mode": "medium"},
        )
        self.assertEqual(refused["status"], 422)
        self.assertEqual(
            [(item["loc"], item["type"]) for item in refused["detail"]],
            [
                (["body", "count"], "int_from_float"),
                (["body", "flag"], "bool_parsing"),
                (["body", "values", 1], "float_parsing"),
                (["body", "pair", 1], "missing"),
                (["body", "weights"], "dict_type"),
                (["body", "level"], "enum"),
                (["body", "mode"], "literal_error"),
            ],
        )
        self.assertEqual(refused["detail"][6]["msg"], "Input should be 'fast' or 'slow'")


def invoke_nested(worker: Worker, request_id: str, levels: int) -> Dict[str, Any]:
    """Sends /depth a list nested `levels` deep (as text: json.dumps itself stops near 1,000)."""
    value = b"[" * levels + b"0" + b"]" * levels
    payload = b'{"type":"invoke","id":"%s","path":"/depth","input":{"value":%s}}' % (request_id.encode(), value)
    worker.send_raw(struct.pack(">I", len(payload)) + payload)
    return worker.result_for(request_id)


class FrameSafetyTest(WorkerTestCase):
    """No frame stops the worker: whatever one holds, its request is answered and the next one too."""

    def test_input_past_the_depth_limit_is_answered_400(self) -> None:
        worker = self.serve("coercion_app.py")
        self.assertEqual(invoke_nested(worker, "under", 199)["output"], {"levels": 199})
        for levels in (200, 1000, 100_000):
            refused = invoke_nested(worker, "deep-%d" % levels, levels)
            self.assertEqual(refused["status"], 400, levels)
            self.assertIn("more than 200 levels deep", refused["detail"])
        self.assertEqual(invoke_nested(worker, "after", 3)["output"], {"levels": 3})

    def test_depth_limit_is_the_runtimes(self) -> None:
        worker = self.serve("coercion_app.py", env={"KILN_MAX_JSON_DEPTH": "10"})
        self.assertEqual(invoke_nested(worker, "under", 9)["output"], {"levels": 9})
        self.assertEqual(invoke_nested(worker, "over", 10)["status"], 400)

    def test_frames_it_cannot_act_on_are_answered(self) -> None:
        worker = self.serve("hello.py")
        worker.send({"type": "invoke", "id": "list-path", "path": ["/echo"], "input": {}})
        self.assertEqual(worker.result_for("list-path")["status"], 404)
        worker.send({"type": "invoke", "id": "bad-input", "path": "/echo", "input": [1]})
        self.assertEqual(worker.result_for("bad-input")["status"], 422)
        for frame in ({"type": "cancel", "id": [1]}, {"type": "cancel"}, {"type": "invoke", "id": {}}, {"type": None}, {"type": "shutdown-now"}):
            worker.send(frame)
        self.assertEqual(worker.invoke("/echo", {"text": "still here"})["output"], {"text": "still here"})

    def test_extra_inputs_cannot_name_the_instance(self) -> None:
        worker = self.serve("typed_app.py", class_name="Typed")
        self.assertEqual(worker.invoke("/kw", {"value": 1, "more": 2})["output"], {"value": 1, "extra": {"more": 2}})
        refused = worker.invoke("/kw", {"value": 1, "self": 2})
        self.assertEqual(refused["status"], 422)
        self.assertEqual(refused["detail"][0]["loc"], ["body", "self"])

    def test_an_exception_that_cannot_be_described_is_still_answered(self) -> None:
        worker = self.serve("errors_app.py")
        result = worker.invoke("/unprintable")
        self.assertEqual(result["status"], 500)
        self.assertIn("Unprintable", result["detail"])
        self.assertEqual(worker.invoke("/app-exception")["status"], 413)


class ErrorTest(WorkerTestCase):
    def test_error_statuses_and_details(self) -> None:
        worker = self.serve("errors_app.py")
        app_error = worker.invoke("/app-exception")
        self.assertEqual((app_error["status"], app_error["detail"]), (413, "the prompt is too long"))
        self.assertEqual(app_error["errorType"], "AppException")
        self.assertNotIn("fatal", app_error)
        self.assertEqual(worker.invoke("/top-level-exception")["status"], 402)

        field = worker.invoke("/field-exception", {"prompt": ""})
        self.assertEqual(field["status"], 422)
        self.assertEqual(
            field["detail"], [{"loc": ["body", "prompt"], "msg": "must not be empty", "type": "value_error"}]
        )

        crash = worker.invoke("/crash")
        self.assertEqual((crash["status"], crash["detail"], crash["errorType"]), (500, "'missing'", "KeyError"))
        self.assertIn('return values["missing"]', crash["traceback"])
        self.assertNotIn("kiln_harness", crash["traceback"])

        for path in ("/oom", "/cuda-error"):
            gpu = worker.invoke(path)
            self.assertEqual((gpu["status"], gpu.get("fatal")), (503, True), path)

        returned_bytes = worker.invoke("/bytes")
        self.assertEqual(returned_bytes["status"], 500)
        self.assertEqual(returned_bytes["detail"], "endpoint returned bytes; return a dict or use save_file")
        self.assertEqual(worker.invoke("/nan")["status"], 500)
        gave_up = worker.invoke("/gives-up")
        self.assertEqual((gave_up["status"], gave_up["detail"]), (499, "Request cancelled"), "a handler that cancels itself is a 499")
        self.assertEqual(worker.invoke("/app-exception")["status"], 413, "and the runner answers the next request")

        worker.send({"type": "shutdown", "graceMs": 1000})
        self.assertEqual(worker.wait(), 0)
        logs = worker.logs()
        self.assertIn("KeyError: 'missing'", logs, "unexpected errors reach the logs with their traceback")
        self.assertNotIn("the prompt is too long", logs, "an AppException is an answer, not a crash")


class OutputTest(WorkerTestCase):
    def test_common_python_values_become_json(self) -> None:
        worker = self.serve("outputs_app.py")
        self.assertEqual(
            worker.invoke("/values")["output"],
            {
                "when": "2024-05-06T07:08:09",
                "day": "2024-05-06",
                "id": "12345678-1234-5678-1234-567812345678",
                "price": 1.5,
                "path": "/models/a.bin",
                "shade": "dark",
                "tags": ["only"],
                "pair": [1, 2],
                "point": {"x": 3, "y": 4},
            },
        )

    def test_values_without_json_form_are_500_with_a_reason(self) -> None:
        worker = self.serve("outputs_app.py")
        unknown = worker.invoke("/object")
        self.assertEqual(unknown["status"], 500)
        self.assertIn("a value of type object, which has no JSON form", unknown["detail"])
        circular = worker.invoke("/circular")
        self.assertEqual(circular["status"], 500)
        self.assertIn("circular reference", circular["detail"])


class ToolkitTest(WorkerTestCase):
    def assert_png(self, data: bytes, width: int, height: int) -> None:
        self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n")
        self.assertEqual(struct.unpack(">II", data[16:24]), (width, height))

    def test_returned_images_and_files_are_stored(self) -> None:
        worker = self.serve("image_app.py")
        image = worker.invoke("/pixels", {"width": 4, "height": 3})["output"]
        self.assertEqual(
            {key: image[key] for key in ("content_type", "width", "height")},
            {"content_type": "image/png", "width": 4, "height": 3},
        )
        self.assertTrue(image["url"].endswith(".png"))
        stored = self.file_behind(worker, image["url"])
        self.assertEqual(image["file_size"], len(stored))
        self.assertEqual(image["file_name"], image["url"].rsplit("/", 1)[1])
        self.assert_png(stored, 4, 3)
        if _has("PIL"):
            import io

            from PIL import Image as PILImage

            decoded = PILImage.open(io.BytesIO(stored))
            self.assertEqual(decoded.getpixel((3, 2)), (255, 0, 0))

        nested = worker.invoke("/nested")["output"]
        self.assertEqual(nested["images"][0]["width"], 2)
        self.assertEqual(nested["result"]["caption"], "green")
        self.assert_png(self.file_behind(worker, nested["result"]["image"]["url"]), 1, 1)

        saved = worker.invoke("/save-image")["output"]["url"]
        self.assert_png(self.file_behind(worker, saved), 5, 7)

        note = worker.invoke("/save-file", {"text": "hello"})["output"]["url"]
        self.assertTrue(note.endswith(".txt"))
        self.assertEqual(self.file_behind(worker, note), b"hello")

        file = worker.invoke("/file")["output"]
        self.assertEqual((file["content_type"], file["file_name"], file["file_size"]), ("text/plain", "hello.txt", 5))
        self.assertEqual(self.file_behind(worker, file["url"]), b"hello")

        copied = worker.invoke("/file-from-path")["output"]
        self.assertEqual((copied["file_name"], copied["content_type"]), ("report.csv", "text/csv"))
        self.assertTrue(copied["url"].endswith(".csv"))
        self.assertEqual(self.file_behind(worker, copied["url"]), b"a,b\n1,2\n")

    @unittest.skipUnless(_has("numpy"), "numpy is not installed for this interpreter")
    def test_numpy_array_saved_as_png(self) -> None:
        worker = self.serve("image_app.py")
        url = worker.invoke("/numpy")["output"]["url"]
        self.assert_png(self.file_behind(worker, url), 8, 6)

    @unittest.skipUnless(_has("PIL"), "Pillow is not installed for this interpreter")
    def test_pil_image_saved_as_jpeg(self) -> None:
        worker = self.serve("image_app.py")
        url = worker.invoke("/pil")["output"]["url"]
        self.assertTrue(url.endswith(".jpg"))
        self.assertEqual(self.file_behind(worker, url)[:3], b"\xff\xd8\xff")


@unittest.skipUnless(_has("pydantic"), "pydantic is not installed for this interpreter")
class PydanticTest(WorkerTestCase):
    def test_model_schema_is_self_contained(self) -> None:
        (app,) = self.inspect_one("pydantic_app.py")["apps"]
        draw, mixed = app["endpoints"]
        self.assertEqual(draw["pydanticModel"], "Input")
        schema = draw["inputSchema"]
        text = json.dumps(schema)
        self.assertNotIn("$ref", text)
        self.assertNotIn("$defs", text)
        self.assertNotIn("definitions", text)
        self.assertEqual(schema["title"], "draw")
        self.assertEqual(schema["required"], ["prompt"])
        self.assertEqual(schema["properties"]["prompt"]["description"], "What to draw")
        size = schema["properties"]["size"]
        self.assertEqual(size["properties"]["width"]["minimum"], 64)
        self.assertEqual(schema["properties"]["sizes"]["items"]["properties"]["height"]["type"], "integer")
        self.assertEqual(schema["properties"]["style"]["enum"], ["photo", "art"])
        self.assertNotIn("pydanticModel", mixed)
        self.assertEqual(mixed["inputSchema"]["properties"]["size"]["properties"]["width"]["minimum"], 64)

    def test_model_validation_and_output(self) -> None:
        worker = self.serve("pydantic_app.py")
        result = worker.invoke("/draw", {"prompt": "a cat", "size": {"width": 128}})
        output = result["output"]
        self.assertEqual(output["prompt"], "a cat")
        self.assertEqual(output["size"], {"width": 128, "height": 512})
        self.assertEqual((output["image"]["width"], output["image"]["height"]), (2, 1))
        self.file_behind(worker, output["image"]["url"])

        invalid = worker.invoke("/draw", {"size": {"width": 8}})
        self.assertEqual(invalid["status"], 422)
        locations = sorted(item["loc"] for item in invalid["detail"])
        self.assertEqual(locations, [["body", "prompt"], ["body", "size", "width"]])
        for item in invalid["detail"]:
            self.assertEqual(sorted(item), ["loc", "msg", "type"])

        mixed = worker.invoke("/mixed", {"size": {"width": 100, "height": 2}})
        self.assertEqual(mixed["output"], {"area": 200, "label": "x"})
        bad_field = worker.invoke("/mixed", {"size": {"width": "wide"}})
        self.assertEqual(bad_field["status"], 422)
        self.assertEqual(bad_field["detail"][0]["loc"], ["body", "size", "width"])


class ConcurrencyTest(WorkerTestCase):
    def assert_overlap(self, outputs: List[Dict[str, Any]]) -> None:
        latest_start = max(output["start"] for output in outputs)
        earliest_end = min(output["end"] for output in outputs)
        self.assertLess(latest_start, earliest_end, "all four requests were running at once")

    def test_sync_requests_overlap_up_to_max_multiplexing(self) -> None:
        worker = self.serve("concurrent_app.py", env={"KILN_MAX_MULTIPLEXING": "4"})
        ids = [worker.submit("/sync-sleep", {"seconds": 0.8}) for _ in range(4)]
        outputs = [worker.result_for(request_id)["output"] for request_id in ids]
        self.assert_overlap(outputs)
        self.assertEqual(len({output["thread"] for output in outputs}), 4)

    def test_async_requests_overlap_on_one_loop(self) -> None:
        worker = self.serve("concurrent_app.py", env={"KILN_MAX_MULTIPLEXING": "4"})
        ids = [worker.submit("/async-sleep", {"seconds": 0.8}) for _ in range(4)]
        outputs = [worker.result_for(request_id)["output"] for request_id in ids]
        self.assert_overlap(outputs)
        self.assertTrue(all(output["same_loop"] for output in outputs), "setup and handlers share the loop")

    def test_requests_beyond_max_multiplexing_wait_their_turn(self) -> None:
        worker = self.serve("concurrent_app.py", env={"KILN_MAX_MULTIPLEXING": "2"})
        ids = [worker.submit("/sync-sleep", {"seconds": 0.2}) for _ in range(5)]
        outputs = [worker.result_for(request_id)["output"] for request_id in ids]
        events = sorted([(o["start"], 1) for o in outputs] + [(o["end"], -1) for o in outputs])
        running = most = 0
        for _, change in events:
            running += change
            most = max(most, running)
        self.assertEqual(most, 2)

    def test_one_thread_without_multiplexing(self) -> None:
        worker = self.serve("concurrent_app.py")
        ids = [worker.submit("/sync-sleep", {"seconds": 0.05}) for _ in range(3)]
        outputs = sorted((worker.result_for(i)["output"] for i in ids), key=lambda output: output["start"])
        for before, after in zip(outputs, outputs[1:]):
            self.assertLessEqual(before["end"], after["start"])


def wait_for_file(path: str, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


class CancelAndShutdownTest(WorkerTestCase):
    def test_cancel_async_handler(self) -> None:
        worker = self.serve("concurrent_app.py")
        request_id = worker.submit("/async-forever")
        self.assertTrue(wait_for_file(worker.marker + ".started"), worker.logs())
        worker.send({"type": "cancel", "id": request_id})
        result = worker.result_for(request_id, timeout=5)
        self.assertEqual((result["status"], result["detail"]), (499, "Request cancelled"))
        self.assertNotIn("errorType", result)
        self.assertTrue(wait_for_file(worker.marker + ".cancelled"), "the handler saw CancelledError")
        self.assertEqual(worker.invoke("/noop")["output"], {})

    def test_cancel_sync_handler_answers_at_once(self) -> None:
        worker = self.serve("concurrent_app.py")
        slow = worker.submit("/sync-sleep", {"seconds": 2.0})
        time.sleep(0.1)
        worker.send({"type": "cancel", "id": slow})
        self.assertEqual(worker.result_for(slow, timeout=1.5)["status"], 499, "long before the handler ends")
        follow_up = worker.invoke("/noop")
        self.assertEqual(follow_up["output"], {})
        worker.send({"type": "shutdown", "graceMs": 5000})
        frames = []
        while True:
            frame = worker.recv()
            if frame is None:
                break
            frames.append(frame)
        self.assertEqual(frames, [], "the cancelled request's late result is dropped")
        self.assertEqual(worker.wait(), 0)

    def test_shutdown_waits_for_in_flight_then_tears_down(self) -> None:
        worker = self.serve("concurrent_app.py", env={"KILN_MAX_MULTIPLEXING": "2"})
        request_id = worker.submit("/sync-sleep", {"seconds": 0.3})
        async_id = worker.submit("/async-sleep", {"seconds": 0.3})
        worker.send({"type": "shutdown", "graceMs": 5000})
        self.assertTrue(worker.result_for(request_id)["ok"])
        self.assertTrue(worker.result_for(async_id)["ok"])
        self.assertIsNone(worker.recv())
        self.assertEqual(worker.wait(), 0)
        with open(worker.marker) as marker:
            self.assertEqual(marker.read(), "torn down")

    def test_grace_period_ends_in_503(self) -> None:
        worker = self.serve("concurrent_app.py")
        request_id = worker.submit("/async-forever")
        worker.send({"type": "shutdown", "graceMs": 100})
        result = worker.result_for(request_id)
        self.assertEqual(result["status"], 503)
        self.assertEqual(worker.wait(), 0)
        self.assertTrue(os.path.exists(worker.marker))

    def test_eof_means_shutdown(self) -> None:
        worker = self.serve("concurrent_app.py")
        worker.end_input()
        self.assertEqual(worker.wait(), 0)
        self.assertTrue(os.path.exists(worker.marker))

    def test_sigterm_means_shutdown(self) -> None:
        worker = self.serve("concurrent_app.py", env={"KILN_MAX_MULTIPLEXING": "2"})
        request_id = worker.submit("/sync-sleep", {"seconds": 0.5})
        worker.invoke("/noop")  # answered, so the invoke before it has been read
        worker.process.send_signal(signal.SIGTERM)
        self.assertTrue(worker.result_for(request_id)["ok"], "in-flight work finishes first")
        self.assertEqual(worker.wait(), 0)
        self.assertTrue(os.path.exists(worker.marker))


# The transport alone: read a frame, answer a fixed result, as cheaply as Python can.
BARE_ECHO = r"""
import json, os, struct
buffer = b""
while True:
    while len(buffer) < 4 or len(buffer) < 4 + struct.unpack(">I", buffer[:4])[0]:
        chunk = os.read(3, 65536)
        if not chunk:
            raise SystemExit
        buffer += chunk
    size = struct.unpack(">I", buffer[:4])[0]
    request, buffer = json.loads(buffer[4 : 4 + size]), buffer[4 + size :]
    reply = json.dumps({"type": "result", "id": request["id"], "ok": True, "output": {}, "executionMs": 0}).encode()
    os.write(4, struct.pack(">I", len(reply)) + reply)
"""


@unittest.skipUnless(os.environ.get("KILN_BENCH"), "set KILN_BENCH=1 to measure per-request overhead")
class OverheadBenchmark(WorkerTestCase):
    """Not a test: prints how much the harness adds to a no-op request's round trip."""

    def round_trips(self, worker: Worker, count: int) -> float:
        frames = [worker.frame({"type": "invoke", "id": "n%d" % i, "path": "/noop", "input": {}}) for i in range(count)]
        started = time.perf_counter()
        for frame in frames:
            worker.send_raw(frame)
            worker.recv()
        return (time.perf_counter() - started) / count

    def pipelined(self, worker: Worker, count: int, window: int = 64) -> float:
        frames = [worker.frame({"type": "invoke", "id": "p%d" % i, "path": "/noop", "input": {}}) for i in range(count)]
        started = time.perf_counter()
        for first in range(0, count, window):
            batch = frames[first : first + window]
            worker.send_raw(b"".join(batch))
            for _ in batch:
                worker.recv()
        return (time.perf_counter() - started) / count

    def test_noop_round_trips(self) -> None:
        count = int(os.environ.get("KILN_BENCH_COUNT", "10000"))
        bare = self.start("hello.py", command=[sys.executable, "-c", BARE_ECHO])
        harness = self.serve("concurrent_app.py")
        self.round_trips(bare, 500)
        self.round_trips(harness, 500)
        bare_s, harness_s = self.round_trips(bare, count), self.round_trips(harness, count)
        bare_p, harness_p = self.pipelined(bare, count), self.pipelined(harness, count)
        print(
            "\n%d no-op invokes, one at a time: bare echo %.0f req/s (%.1f us), harness %.0f req/s (%.1f us):"
            " the harness adds %.1f us per request"
            "\npipelined 64 deep: bare echo %.0f req/s (%.1f us), harness %.0f req/s (%.1f us)"
            % (
                count,
                1 / bare_s,
                bare_s * 1e6,
                1 / harness_s,
                harness_s * 1e6,
                (harness_s - bare_s) * 1e6,
                1 / bare_p,
                bare_p * 1e6,
                1 / harness_p,
                harness_p * 1e6,
            )
        )


if __name__ == "__main__":
    unittest.main()
