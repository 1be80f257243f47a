"""The input conversion table of the README, row by row, as pydantic 2's lax mode answers
(https://docs.pydantic.dev/latest/concepts/conversion_table/). properties_coercion.py holds
the same rules against an installed pydantic on generated values; these are the cases where
the pydantic Debian ships (1.10) answers otherwise, and a few of each row besides.

Run: python3 -m unittest discover -s test/python
"""
from __future__ import annotations

import enum
import math
import sys
import unittest
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Literal, Mapping, Optional, Sequence, Set, Tuple, Union

HARNESS = Path(__file__).resolve().parents[2] / "src" / "runtime" / "python"
if str(HARNESS) not in sys.path:
    sys.path.insert(0, str(HARNESS))

from kiln_harness.coercion import InputError, convert, converter  # noqa: E402


class Shade(enum.Enum):
    DARK = "dark"
    LIGHT = "light"


class Level(int, enum.Enum):
    LOW = 1
    HIGH = 2


class Refused:
    """An expected 422: the error type, and where it points below the parameter."""

    def __init__(self, kind: str, *loc: Any) -> None:
        self.kind = kind
        self.loc = list(loc)


NAN = float("nan")

# (annotation, input, what the handler gets, or Refused)
TABLE: List[Tuple[Any, Any, Any]] = [
    # float: ints and numeric text, which JSON and Node hand over as they please
    (float, 2, 2.0),
    (float, -0, 0.0),
    (float, True, 1.0),
    (float, "2.5", 2.5),
    (float, " 1e3\n", 1000.0),
    (float, "\u30001.5", 1.5),
    (float, "1_000.5", 1000.5),
    (float, "1._5", 1.5),  # pydantic 2 drops underscores wherever they sit inside
    (float, " 1_0", Refused("float_parsing")),  # …but not together with whitespace
    (float, "inf", math.inf),
    (float, "-Infinity", -math.inf),
    (float, "nan", NAN),
    (float, ".5", 0.5),
    (float, "5.", 5.0),
    (float, "\u0663", Refused("float_parsing")),  # Python's float() reads Arabic-Indic digits; pydantic 2 does not
    (float, "1,5", Refused("float_parsing")),
    (float, "", Refused("float_parsing")),
    (float, None, Refused("float_type")),
    (float, [1], Refused("float_type")),
    (float, 10**400, Refused("float_type")),
    # int
    (int, 3, 3),
    (int, 3.0, 3),
    (int, -0.0, 0),
    (int, True, 1),
    (int, 3.5, Refused("int_from_float")),  # pydantic 1 truncated it to 3
    (int, 1e20, Refused("int_parsing_size")),
    (int, 2**100, 2**100),
    (int, "42", 42),
    (int, " +42 ", 42),
    (int, "-0042", -42),
    (int, "1_000", 1000),
    (int, "42.000", 42),  # pydantic 1 refused any point
    (int, "42.", Refused("int_parsing")),
    (int, "42.5", Refused("int_parsing")),
    (int, "0__0", 0),
    (int, "1__0", Refused("int_parsing")),
    (int, "0x10", Refused("int_parsing")),
    (int, "1e3", Refused("int_parsing")),
    (int, "\u0663", Refused("int_parsing")),
    (int, "\x1c7", Refused("int_parsing")),  # int() strips \x1c as whitespace; pydantic 2 does not
    (int, "9" * 4301, Refused("int_parsing_size")),
    (int, "", Refused("int_parsing")),
    (int, None, Refused("int_type")),
    (int, {}, Refused("int_type")),
    # bool
    (bool, True, True),
    (bool, 0, False),
    (bool, 1.0, True),
    (bool, 2, Refused("bool_parsing")),
    (bool, 2.0, Refused("bool_parsing")),
    (bool, 0.5, Refused("bool_type")),
    (bool, 2**64, Refused("bool_type")),
    (bool, "YES", True),
    (bool, "off", False),
    (bool, "T", True),
    (bool, " true", Refused("bool_parsing")),
    (bool, "maybe", Refused("bool_parsing")),
    (bool, None, Refused("bool_type")),
    # str: numbers stay refused (pydantic 1 turned them into text)
    (str, "a", "a"),
    (str, 1, Refused("string_type")),
    (str, 1.5, Refused("string_type")),
    (str, True, Refused("string_type")),
    (str, None, Refused("string_type")),
    (bytes, "é", "é".encode()),
    (bytes, 1, Refused("bytes_type")),
    (type(None), None, None),
    (type(None), 0, Refused("none_required")),
    # optional and union
    (Optional[float], None, None),
    (Optional[float], 1, 1.0),
    (Optional[float], "x", Refused("float_parsing")),
    (Union[int, str], "1", "1"),  # the member the value already is wins (pydantic 1 gave 1)
    (Union[str, int], 1, 1),
    (Union[float, int], 1, 1),
    (Union[int, float], 1.5, 1.5),
    (Union[int, List[int]], ["1"], [1]),
    (Union[int, bool], "yes", True),
    (Union[int, bool], [], Refused("int_type", "int")),
    # containers
    (List[float], [1, "2", True], [1.0, 2.0, 1.0]),
    (List[float], [1, "x", None], Refused("float_parsing", 1)),
    (List[int], "12", Refused("list_type")),
    (List[int], {"0": 1}, Refused("list_type")),
    (Sequence[int], ["1"], [1]),
    (List[List[int]], [["1"], [2.0]], [[1], [2]]),
    (Tuple[int, ...], ["1", 2], (1, 2)),
    (Tuple[int, float], ["1", 2], (1, 2.0)),
    (Tuple[int, float], [1], Refused("missing", 1)),
    (Tuple[int, float], [1, 2, 3], Refused("too_long")),
    (Tuple[()], [], ()),
    (Set[int], [1, "1", 2.0], {1, 2}),
    (FrozenSet[str], ["a", "a"], frozenset({"a"})),
    (Set[Any], [[1]], Refused("set_item_not_hashable", 0)),
    (Dict[str, float], {"a": 1}, {"a": 1.0}),
    (Dict[str, float], [["a", 1]], Refused("dict_type")),  # pydantic 1 took a list of pairs
    (Dict[int, bool], {"1": "yes"}, {1: True}),
    (Dict[int, bool], {"one": True}, Refused("int_parsing", "one", "[key]")),
    (Mapping[str, int], {"a": "1"}, {"a": 1}),
    # choices
    (Literal["fast", "slow"], "fast", "fast"),
    (Literal["fast", "slow"], "FAST", Refused("literal_error")),
    (Literal[1, 2], 1.0, 1),
    (Literal[1, 2], True, 1),
    (Literal[1, 2], "1", Refused("literal_error")),
    (Literal[True], True, True),
    (Shade, "dark", Shade.DARK),
    (Shade, "DARK", Refused("enum")),
    (Level, 2, Level.HIGH),
    (Level, "2", Level.HIGH),  # an int enum takes what int takes (pydantic 1 refused "2")
    (Level, 2.0, Level.HIGH),
    (Level, 3, Refused("enum")),
    # no conversion
    (Any, {"a": [1, "2"]}, {"a": [1, "2"]}),
    (List[Any], [1, "2"], [1, "2"]),
]


def same(left: Any, right: Any) -> bool:
    """Equal and of the same types all the way down (2 and 2.0 are not the same)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, float) and math.isnan(left):
        return math.isnan(right)
    if isinstance(left, (list, tuple)):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right))
    if isinstance(left, dict):
        return list(left) == list(right) and all(same(left[key], right[key]) for key in left)
    return left == right and (not isinstance(left, (set, frozenset)) or sorted(map(repr, left)) == sorted(map(repr, right)))


class ConversionTable(unittest.TestCase):
    def test_each_row(self) -> None:
        for hint, value, expected in TABLE:
            with self.subTest(hint=hint, value=value if not isinstance(value, str) or len(value) < 20 else value[:20] + "…"):
                convert_hint = converter(hint)
                if convert_hint is None:
                    self.assertTrue(same(value, expected))
                    continue
                try:
                    result = convert(convert_hint, value, ("x",))
                except InputError as error:
                    self.assertIsInstance(expected, Refused, error.detail)
                    first = error.detail[0]
                    self.assertEqual((first["type"], first["loc"]), (expected.kind, ["body", "x", *expected.loc]), error.detail)
                    self.assertTrue(first["msg"])
                    continue
                self.assertNotIsInstance(expected, Refused, "accepted as %r" % (result,))
                self.assertTrue(same(result, expected), "got %r" % (result,))

    def test_messages_are_pydantics(self) -> None:
        def message(hint: Any, value: Any) -> str:
            with self.assertRaises(InputError) as caught:
                convert(converter(hint), value, ("x",))
            return caught.exception.detail[0]["msg"]

        self.assertEqual(message(int, 1.5), "Input should be a valid integer, got a number with a fractional part")
        self.assertEqual(message(int, "x"), "Input should be a valid integer, unable to parse string as an integer")
        self.assertEqual(message(float, "x"), "Input should be a valid number, unable to parse string as a number")
        self.assertEqual(message(bool, "x"), "Input should be a valid boolean, unable to interpret input")
        self.assertEqual(message(str, 1), "Input should be a valid string")
        self.assertEqual(message(Literal["a", "b", "c"], "d"), "Input should be 'a', 'b' or 'c'")
        self.assertEqual(message(Shade, "x"), "Input should be 'dark' or 'light'")
        self.assertEqual(message(Tuple[int], [1, 2]), "Tuple should have at most 1 item after validation, not 2")

    def test_every_problem_in_a_value_is_reported(self) -> None:
        with self.assertRaises(InputError) as caught:
            convert(converter(Dict[str, List[int]]), {"a": [1, "x", 2.5], "b": "no"}, ("x",))
        self.assertEqual(
            [(item["loc"], item["type"]) for item in caught.exception.detail],
            [
                (["body", "x", "a", 1], "int_parsing"),
                (["body", "x", "a", 2], "int_from_float"),
                (["body", "x", "b"], "list_type"),
            ],
        )


if __name__ == "__main__":
    unittest.main()
