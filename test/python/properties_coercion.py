"""Kiln's input conversion (kiln_harness/coercion.py) against pydantic as the oracle: for each
rule, many generated JSON values go through both, and both must accept (with the same value,
type for type) or both refuse. pydantic is only the oracle here; the worker never imports it.

fal's endpoints validate with pydantic 2, and Kiln follows pydantic 2's lax mode. Debian 12
ships pydantic 1.10, whose lax mode differs in known places (it truncates 3.7 to an int, turns
numbers into strings, parses numbers with Python's int() and float(), takes a list of pairs as
a dict…). Under pydantic 1 the values in those places are left out of the comparison (each
`V1_DIFFERS` entry says which); test_coercion.py pins Kiln's answers there to pydantic 2's
documented ones. Under pydantic 2 every generated value is compared.

Needs hypothesis and pydantic: run with Debian's interpreter,
    /usr/bin/python3 -m unittest discover -s test/python -p 'properties_*.py'
"""
from __future__ import annotations

import enum
import math
import os
import sys
import unittest
from pathlib import Path
from typing import Any, Callable, Dict, FrozenSet, List, Literal, Optional, Set, Tuple

import pydantic
from hypothesis import assume, given, settings
from hypothesis import strategies as st

HARNESS = Path(__file__).resolve().parents[2] / "src" / "runtime" / "python"
if str(HARNESS) not in sys.path:
    sys.path.insert(0, str(HARNESS))

from kiln_harness.coercion import InputError, convert, converter  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_coercion import Level, Shade  # noqa: E402  (the enums the conversion table uses)

PYDANTIC_2 = pydantic.VERSION.startswith("2")
# Each rule sees this many generated values; KILN_PROPERTY_EXAMPLES=5000 looks harder.
EXAMPLES = int(os.environ.get("KILN_PROPERTY_EXAMPLES", "200"))


# ---- what JSON can send ----------------------------------------------------------------

INTS = st.integers() | st.sampled_from([0, 1, -1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 10**30, -(10**30)])
FLOATS = (
    st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(-(2**70), 2**70).map(float)
    | st.sampled_from([0.0, 1.0, -0.0, 0.5, 1e300, 9.223372036854776e18])
)
NUMBER_TEXT = st.text(alphabet="0123456789+-_.eE xinfatyNIF\t\n\r\x0b\x0c\x1c\xa0\u3000\u0663", max_size=10)
NUMBER_SHAPED = st.from_regex(r"\A\s?[+-]?0?[0-9_]{0,5}(\.0*[0-9_]{0,2})?([eE][+-]?[0-9]{1,3})?\s?\Z")
BOOL_WORDS = st.sampled_from(["0", "1", "t", "f", "y", "n", "on", "off", "yes", "no", "true", "false", "2", "", " true"]).flatmap(
    lambda word: st.sampled_from([word, word.upper(), word.title()])
)
SCALARS = st.none() | st.booleans() | INTS | FLOATS | st.text(max_size=8) | NUMBER_TEXT | NUMBER_SHAPED | BOOL_WORDS
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4) | NUMBER_SHAPED, children, max_size=4),
    max_leaves=12,
)
LISTS = st.lists(SCALARS, max_size=5)

# ---- where pydantic 1 is not the oracle ----------------------------------------------------


def _never(value: Any) -> bool:
    return False


def _python_number_text(value: Any) -> bool:
    """Text pydantic 1 reads with int()/float(): those take Unicode digits, Python's wider
    whitespace and other underscore rules; pydantic 2 parses ASCII only, its own way."""
    return isinstance(value, str) and (not value.isascii() or any("\x1c" <= char <= "\x1f" for char in value) or "_" in value)


def _int_differs(value: Any) -> bool:
    if isinstance(value, float):  # pydantic 1 truncates 3.7 and takes any size
        return not value.is_integer() or abs(value) >= 2**63
    # pydantic 2 also takes "3.0"; pydantic 1 takes no text with a point.
    return _python_number_text(value) or (isinstance(value, str) and "." in value)


def _float_differs(value: Any) -> bool:
    # pydantic 1 lets float()'s OverflowError escape for ints past 1e308.
    return _python_number_text(value) or (type(value) is int and abs(value) > 10**308)


def _str_differs(value: Any) -> bool:
    return isinstance(value, (int, float))  # pydantic 1 turns numbers (and booleans) into text


def _items_differ(item: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, list) and any(item(element) for element in value)


def _dict_differs(key: Callable[[Any], bool], item: Callable[[Any], bool]) -> Callable[[Any], bool]:
    # pydantic 1 calls dict() on what is not one: a list of pairs, or "", becomes a dict.
    return lambda value: isinstance(value, (list, str)) or (
        isinstance(value, dict) and any(key(name) or item(element) for name, element in value.items())
    )


def _level_differs(value: Any) -> bool:
    return isinstance(value, str)  # pydantic 2 reads "2" as an int for an int enum


Rule = Tuple[str, Any, Any, Callable[[Any], bool]]
RULES: List[Rule] = [
    ("int", int, SCALARS, _int_differs),
    ("float", float, SCALARS, _float_differs),
    ("bool", bool, SCALARS | JSON, _never),
    ("str", str, SCALARS | JSON, _str_differs),
    ("none", type(None), SCALARS, _never),
    ("optional_float", Optional[float], SCALARS, _float_differs),
    ("list_of_floats", List[float], LISTS | JSON, _items_differ(_float_differs)),
    ("list_of_lists_of_ints", List[List[int]], st.lists(LISTS, max_size=3) | JSON, _items_differ(_items_differ(_int_differs))),
    ("tuple_of_ints", Tuple[int, ...], LISTS | JSON, _items_differ(_int_differs)),
    ("int_and_float", Tuple[int, float], LISTS | JSON, lambda value: isinstance(value, list) and (
        (len(value) > 0 and _int_differs(value[0])) or (len(value) > 1 and _float_differs(value[1])))),
    ("set_of_ints", Set[int], LISTS | JSON, _items_differ(_int_differs)),
    ("frozenset_of_bools", FrozenSet[bool], LISTS | JSON, _never),
    ("dict_of_floats", Dict[str, float], st.dictionaries(st.text(max_size=4), SCALARS, max_size=4) | JSON, _dict_differs(_never, _float_differs)),
    ("dict_int_keys", Dict[int, bool], st.dictionaries(NUMBER_SHAPED | st.text(max_size=3), SCALARS, max_size=4) | JSON, _dict_differs(_int_differs, _never)),
    ("literal_words", Literal["fast", "slow"], SCALARS | st.sampled_from(["fast", "slow"]), _never),
    ("literal_numbers", Literal[1, 2, 3], SCALARS | st.sampled_from([1, 2, 3, 1.0, True]), _never),
    ("enum", Shade, SCALARS | st.sampled_from(["dark", "light", "DARK"]), _never),
    ("int_enum", Level, SCALARS | st.sampled_from([1, 2, 3, 1.0, "1", True]), _level_differs),
]

# ---- comparing outcomes --------------------------------------------------------------------

REFUSED = ("refused",)


def canonical(value: Any) -> Any:
    """A value with every type kept: 2 and 2.0 differ, and so do sets built in other orders."""
    if isinstance(value, enum.Enum):
        return ("enum", type(value).__name__, value.name)
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    if isinstance(value, (set, frozenset)):
        return (type(value).__name__, tuple(sorted(repr(canonical(item)) for item in value)))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(canonical(item) for item in value))
    if isinstance(value, dict):
        return ("dict", tuple((canonical(key), canonical(item)) for key, item in value.items()))
    return (type(value).__name__, value)


def pydantic_outcome(hint: Any, value: Any) -> Any:
    try:
        if PYDANTIC_2:
            result = pydantic.TypeAdapter(hint).validate_python(value)  # type: ignore[attr-defined]
        else:
            result = pydantic.parse_obj_as(hint, value)
    except pydantic.ValidationError:
        return REFUSED
    return canonical(result)


def kiln_outcome(hint: Any, value: Any) -> Any:
    convert_hint = converter(hint)
    assert convert_hint is not None, "Kiln has no conversion for %r" % (hint,)
    try:
        result = convert(convert_hint, value, ("x",))
    except InputError as error:
        for item in error.detail:
            assert item["loc"][:2] == ["body", "x"] and item["msg"] and item["type"], item
        return REFUSED
    return canonical(result)


class AgainstPydantic(unittest.TestCase):
    """One test per rule, each run on EXAMPLES generated values."""

    def test_oracle_is_pydantic(self) -> None:
        sys.stderr.write("\n  (oracle: pydantic %s, lax mode of pydantic %s)\n" % (pydantic.VERSION, "2" if PYDANTIC_2 else "1"))
        self.assertIn(pydantic.VERSION[0], "12")


def _rule_test(hint: Any, values: Any, v1_differs: Callable[[Any], bool]) -> Callable[[AgainstPydantic], None]:
    @settings(max_examples=EXAMPLES, deadline=None, database=None)
    @given(value=values)
    def test(self: AgainstPydantic, value: Any) -> None:
        if not PYDANTIC_2:
            assume(not v1_differs(value))
        self.assertEqual(kiln_outcome(hint, value), pydantic_outcome(hint, value), "input %r" % (value,))

    return test


for _name, _hint, _values, _differs in RULES:
    setattr(AgainstPydantic, "test_%s" % _name, _rule_test(_hint, _values, _differs))


if __name__ == "__main__":
    unittest.main()
