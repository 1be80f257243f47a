"""The worker's frame decoding under generated input (Hypothesis):

- jsonlimits.loads gives back any JSON value within the depth limit, and refuses one past it
  with TooDeep, never RecursionError, whatever the strings inside hold (brackets, quotes,
  escapes);
- loads_pruned reads a too-deep member of the top level as null and keeps the rest;
- a real worker answers every invoke frame it is sent, whatever it holds, exactly once, and
  still serves afterwards.

Run with Debian's interpreter, which has Hypothesis:
    /usr/bin/python3 -m unittest discover -s test/python -p 'properties_*.py'
"""
from __future__ import annotations

import json
import os
import struct
import sys
import unittest
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_worker import Worker  # noqa: E402

HARNESS = Path(__file__).resolve().parents[2] / "src" / "runtime" / "python"
if str(HARNESS) not in sys.path:
    sys.path.insert(0, str(HARNESS))

from kiln_harness.jsonlimits import TooDeep, loads, loads_pruned  # noqa: E402

EXAMPLES = int(os.environ.get("KILN_PROPERTY_EXAMPLES", "200"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# Text that looks like structure: brackets, quotes and escapes inside strings must not count.
TRICKY_TEXT = st.text(alphabet='[]{}"\\/,:ab \n\u00e9\U0001f600', max_size=8)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TRICKY_TEXT
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TRICKY_TEXT, children, max_size=3),
    max_leaves=15,
)


@st.composite
def deep_values(draw: Any) -> Any:
    """A JSON value with a chain of arrays and objects some hundreds of levels deep inside."""
    value = draw(JSON)
    for _ in range(draw(st.integers(0, 400))):
        value = draw(st.sampled_from([lambda v: [v], lambda v: {"k": v}, lambda v: [1, v, "]"], lambda v: {"[": v}]))(value)
    return draw(st.sampled_from([lambda v: v, lambda v: {"input": v, "id": "x"}, lambda v: [v, draw(JSON)]]))(value)


def depth(value: Any) -> int:
    """Nesting levels, the reference the scanner is held to (iterative, so any depth works)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


class DecodingProperties(unittest.TestCase):
    @SETTINGS
    @given(value=deep_values(), limit=st.integers(1, 300))
    def test_loads_keeps_what_fits_and_refuses_the_rest(self, value: Any, limit: int) -> None:
        if depth(value) <= limit:
            self.assertEqual(loads(encode(value), limit), value)
        else:
            with self.assertRaises(TooDeep):
                loads(encode(value), limit)

    @SETTINGS
    @given(value=deep_values(), limit=st.integers(1, 300))
    def test_loads_pruned_nulls_exactly_the_members_too_deep(self, value: Any, limit: int) -> None:
        result, pruned = loads_pruned(encode(value), limit)
        if isinstance(value, dict):
            expected: Any = {key: None if depth(item) + 1 > limit else item for key, item in value.items()}
        elif isinstance(value, list):
            expected = [None if depth(item) + 1 > limit else item for item in value]
        else:
            expected = value
        self.assertEqual(result, expected)
        self.assertEqual(pruned, depth(value) > limit)

    @SETTINGS
    @given(data=st.binary(max_size=64) | st.text(alphabet='[]{}"\\0 ,:', max_size=600).map(str.encode), limit=st.integers(1, 50))
    def test_any_bytes_decode_or_raise_value_error(self, data: bytes, limit: int) -> None:
        for decode in (loads, loads_pruned):
            try:
                decode(data, limit)
            except ValueError:
                pass


class WorkerProperties(unittest.TestCase):
    """One worker for every example: what one frame did must not spoil the next."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.worker = Worker("coercion_app.py", env={"KILN_MAX_JSON_DEPTH": "50"})
        cls.worker.ready()
        cls.count = 0

    @classmethod
    def tearDownClass(cls) -> None:
        cls.worker.close()

    @SETTINGS
    @given(
        path=st.sampled_from(["/depth", "/scale", "/mixed", "/nowhere", ""]) | st.none() | st.integers() | st.lists(st.text(max_size=2), max_size=2),
        payload=deep_values() | JSON,
        extra=st.dictionaries(st.sampled_from(["graceMs", "type2", "id2"]), JSON, max_size=2),
    )
    def test_every_invoke_is_answered_once(self, path: Any, payload: Any, extra: Any) -> None:
        type(self).count += 1
        request_id = "fuzz-%d" % self.count
        frame = {"type": "invoke", "id": request_id, "path": path, "input": payload, **extra}
        body = encode(frame)
        self.worker.send_raw(struct.pack(">I", len(body)) + body)
        answer = self.worker.result_for(request_id)
        self.assertEqual(answer["type"], "result")
        if not answer["ok"]:
            self.assertTrue(400 <= answer["status"] <= 500, answer)
            self.assertNotEqual(answer["status"], 500, "a 500 is a handler's own error; these handlers raise none: %r" % answer)
        probe = "probe-%d" % self.count
        self.worker.send({"type": "invoke", "id": probe, "path": "/scale", "input": {"x": 1}})
        self.assertEqual(self.worker.result_for(probe)["output"], {"float": 1.0})
        self.assertNotIn(request_id, [frame.get("id") for frame in self.worker._stashed], "answered twice")


if __name__ == "__main__":
    unittest.main()
