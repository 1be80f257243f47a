"""A request's input turned into an endpoint's annotated types, as pydantic 2's lax mode
(what fal's endpoints validate with) turns JSON into them: `x: float` sent `2` gets `2.0`,
`n: int` sent `"3"` gets `3`, `flag: bool` sent `"yes"` gets `True`. A value that cannot be
converted is an error in pydantic's 422 shape. The rules are tabled in the README; the tests
hold them against an installed pydantic.

Inputs are JSON values (dict, list, str, int, float, bool, None), so only the conversions
JSON can need are here. Types this module does not know (Any, dataclasses, datetimes…)
reach the handler as sent, as they always have.
"""
from __future__ import annotations

import collections.abc
import enum
import math
import re
import types
import typing
from typing import Any, Callable, Dict, List, Optional, Tuple

Loc = Tuple[Any, ...]
Errors = List[Dict[str, Any]]


class InputError(Exception):
    """The input does not fit the endpoint: answered 422 with fal's `detail` list."""

    def __init__(self, detail: List[Dict[str, Any]]) -> None:
        super().__init__("; ".join("%s: %s" % (".".join(map(str, item["loc"][1:])), item["msg"]) for item in detail))
        self.detail = detail


# How closely a value matched its type, as pydantic ranks union members: a member the value
# is already an instance of beats one it converts to without loss, which beats a lax conversion.
LAX, STRICT, EXACT = 0, 1, 2


class Context:
    """One conversion's mode (strict while a union tries its members) and how exact it was."""

    __slots__ = ("strict", "exactness")

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self.exactness = EXACT

    def lower(self, exactness: int) -> None:
        if exactness < self.exactness:
            self.exactness = exactness


INVALID: Any = object()
"""What a converter returns after adding its errors."""

Converter = Callable[[Any, Loc, Errors, Context], Any]


def _error(errors: Errors, loc: Loc, kind: str, msg: str) -> Any:
    errors.append({"loc": ["body", *loc], "msg": msg, "type": kind})
    return INVALID


# ---- scalars ---------------------------------------------------------------------------

# Rust's str::trim, which pydantic's number parsing uses: Unicode White_Space, nothing more.
_WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_JSON_INT = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")
_RUST_FLOAT = re.compile(
    r"[+-]?(?:inf|infinity|nan|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e[+-]?[0-9]+)?)\Z", re.IGNORECASE | re.ASCII
)
_MAX_INT_DIGITS = 4300  # pydantic's limit, and Python's own for int(str)
_I64_BOUND = float(2**63)
_TRUE_WORDS = frozenset(("t", "y", "on", "yes", "true"))
_FALSE_WORDS = frozenset(("f", "n", "no", "off", "false"))
_INT_PARSING = "Input should be a valid integer, unable to parse string as an integer"
_INT_SIZE = "Unable to parse input string as an integer, exceeded maximum size"


def _strip_underscores(text: str) -> Optional[str]:
    """1_000 -> 1000, where Python would allow the underscores."""
    if text.startswith("_") or text.endswith("_") or "_" not in text or "__" in text:
        return None
    return text.replace("_", "")


def _strip_leading_zeros(text: str) -> Optional[str]:
    if not text:
        return None
    first = text[0]
    if "1" <= first <= "9" or first == "-":
        return text
    if first != "0":
        return None
    for index in range(1, len(text)):
        char = text[index]
        if char in "0_":
            continue
        if "1" <= char <= "9" or char == "-":
            return text[index:]
        if char == ".":
            return text[index - 1 :]  # keep one zero: 00.0 -> 0.0
        return None
    return text[-1]


def _clean_int_text(text: str) -> Optional[str]:
    """What pydantic tries when a string is not a plain integer: surrounding whitespace, a
    leading +, leading zeros, a .000 tail and underscores go; None when nothing changed."""
    length = len(text)
    text = text.strip(_WHITESPACE)
    if text.startswith("+"):
        if text[1:2] == "-":
            return None
        text = text[1:]
    sign = ""
    if text.startswith("-"):
        if text[1:2] in ("-", "+"):
            return None
        sign, text = "-", text[1:]
    stripped = _strip_leading_zeros(text)
    if stripped is None:
        return None
    text = stripped
    point = text.find(".")
    if point >= 0 and text[point + 1 :] and text[point + 1 :].strip("0") == "":
        text = text[:point]
    without_underscores = _strip_underscores(text)
    if without_underscores is not None:
        return sign + without_underscores
    if len(text) == length:
        return None
    return sign + text


def _int_from_text(text: str, loc: Loc, errors: Errors) -> Any:
    if _JSON_INT.match(text):
        if len(text) - text.startswith("-") > _MAX_INT_DIGITS:
            return _error(errors, loc, "int_parsing_size", _INT_SIZE)
        return int(text)
    cleaned = _clean_int_text(text)
    if cleaned is None or not _JSON_INT.match(cleaned) or len(cleaned) > _MAX_INT_DIGITS + 1:
        return _error(errors, loc, "int_parsing", _INT_PARSING)
    return int(cleaned)


def _int_from_float(value: float, loc: Loc, errors: Errors) -> Any:
    if not math.isfinite(value):
        return _error(errors, loc, "finite_number", "Input should be a finite number")
    if not value.is_integer():
        return _error(errors, loc, "int_from_float", "Input should be a valid integer, got a number with a fractional part")
    if not -_I64_BOUND < value < _I64_BOUND:
        return _error(errors, loc, "int_parsing_size", _INT_SIZE)
    return int(value)


def to_int(value: Any, loc: Loc, errors: Errors, context: Context) -> Any:
    kind = type(value)
    if kind is int:
        return value
    if not context.strict:
        context.lower(LAX)
        if kind is bool:
            return int(value)
        if kind is float:
            return _int_from_float(value, loc, errors)
        if kind is str:
            return _int_from_text(value, loc, errors)
    return _error(errors, loc, "int_type", "Input should be a valid integer")


def to_float(value: Any, loc: Loc, errors: Errors, context: Context) -> Any:
    kind = type(value)
    if kind is float:
        return value
    if kind is int:
        context.lower(STRICT)
        try:
            return float(value)
        except OverflowError:
            return _error(errors, loc, "float_type", "Input should be a valid number")
    if not context.strict:
        if kind is bool:
            context.lower(LAX)
            return float(value)
        if kind is str:
            context.lower(LAX)
            trimmed = value.strip(_WHITESPACE)
            if _RUST_FLOAT.match(trimmed):
                return float(trimmed)
            without_underscores = _strip_underscores(value)
            if without_underscores is not None and _RUST_FLOAT.match(without_underscores):
                return float(without_underscores)
            return _error(errors, loc, "float_parsing", "Input should be a valid number, unable to parse string as a number")
    return _error(errors, loc, "float_type", "Input should be a valid number")


def to_bool(value: Any, loc: Loc, errors: Errors, context: Context) -> Any:
    kind = type(value)
    if kind is bool:
        return value
    if not context.strict:
        context.lower(LAX)
        if kind is str:
            # No trimming, and only ASCII letters ignore case, as in pydantic.
            if value == "1" or value.lower() in _TRUE_WORDS and value.isascii():
                return True
            if value == "0" or value.lower() in _FALSE_WORDS and value.isascii():
                return False
            return _error(errors, loc, "bool_parsing", "Input should be a valid boolean, unable to interpret input")
        number: Any = None
        if kind is int:
            number = value if -_I64_BOUND <= value < _I64_BOUND else None
        elif kind is float:
            number = int(value) if math.isfinite(value) and value.is_integer() and -_I64_BOUND < value < _I64_BOUND else None
        if number is not None:
            if number in (0, 1):
                return number == 1
            return _error(errors, loc, "bool_parsing", "Input should be a valid boolean, unable to interpret input")
    return _error(errors, loc, "bool_type", "Input should be a valid boolean")


def to_str(value: Any, loc: Loc, errors: Errors, context: Context) -> Any:
    if type(value) is str:
        return value
    return _error(errors, loc, "string_type", "Input should be a valid string")


def to_bytes(value: Any, loc: Loc, errors: Errors, context: Context) -> Any:
    if type(value) is str and not context.strict:
        context.lower(LAX)
        return value.encode()
    return _error(errors, loc, "bytes_type", "Input should be a valid bytes")


def to_none(value: Any, loc: Loc, errors: Errors, context: Context) -> Any:
    if value is None:
        return None
    return _error(errors, loc, "none_required", "Input should be None")


# ---- choices ---------------------------------------------------------------------------


def _choices_text(values: List[Any]) -> str:
    shown = [repr(value) for value in values]
    return shown[0] if len(shown) == 1 else "%s or %s" % (", ".join(shown[:-1]), shown[-1])


def _lookup(value: Any, choices: List[Any]) -> Any:
    """The choice equal to `value`, one of the same type first (so True finds True before 1)."""
    for choice in choices:
        if type(choice) is type(value) and choice == value:
            return choice
    try:
        hash(value)
    except TypeError:
        return INVALID
    for choice in choices:
        if choice == value:
            return choice
    return INVALID


def literal_converter(values: Tuple[Any, ...]) -> Converter:
    choices = list(values)
    message = "Input should be %s" % _choices_text(choices)

    def convert(value: Any, loc: Loc, errors: Errors, context: Context) -> Any:
        found = _lookup(value, choices)
        if found is INVALID:
            return _error(errors, loc, "literal_error", message)
        if type(found) is not type(value):
            context.lower(STRICT)
        return found

    return convert


def enum_converter(cls: type) -> Converter:
    members = list(cls)  # type: ignore[call-overload]
    values = [member.value for member in members]
    message = "Input should be %s" % _choices_text(values)
    # An int or str enum also takes what lax mode turns into an int or a str.
    base = to_int if issubclass(cls, int) else to_float if issubclass(cls, float) else None

    def convert(value: Any, loc: Loc, errors: Errors, context: Context) -> Any:
        context.lower(STRICT)
        found = _lookup(value, values)
        if found is INVALID and base is not None and not context.strict:
            scratch: Errors = []
            converted = base(value, loc, scratch, Context())
            if not scratch:
                found = _lookup(converted, values)
        if found is INVALID:
            return _error(errors, loc, "enum", message)
        return members[values.index(found)]

    return convert


# ---- containers ------------------------------------------------------------------------


def _items_of(value: Any, loc: Loc, errors: Errors, context: Context, kind: str, what: str, exact: type) -> Any:
    if type(value) is exact:
        return value
    if type(value) in (list, tuple) and not context.strict:
        context.lower(LAX)
        return value
    return _error(errors, loc, kind, "Input should be a valid %s" % what)


def list_converter(item: Optional[Converter]) -> Converter:
    def convert(value: Any, loc: Loc, errors: Errors, context: Context) -> Any:
        items = _items_of(value, loc, errors, context, "list_type", "list", list)
        if items is INVALID:
            return INVALID
        if item is None:
            return list(items)
        count = len(errors)
        result = [item(element, (*loc, index), errors, context) for index, element in enumerate(items)]
        return INVALID if len(errors) > count else result

    return convert


def set_converter(item: Optional[Converter], frozen: bool) -> Converter:
    exact, what, kind = (frozenset, "frozenset", "frozen_set_type") if frozen else (set, "set", "set_type")

    def convert(value: Any, loc: Loc, errors: Errors, context: Context) -> Any:
        items = _items_of(value, loc, errors, context, kind, what, exact)
        if items is INVALID:
            return INVALID
        count = len(errors)
        result = set()
        for index, element in enumerate(items):
            converted = element if item is None else item(element, (*loc, index), errors, context)
            if converted is INVALID:
                continue
            try:
                result.add(converted)
            except TypeError:
                _error(errors, (*loc, index), "set_item_not_hashable", "Set items should be hashable")
        if len(errors) > count:
            return INVALID
        return frozenset(result) if frozen else result

    return convert


def tuple_converter(items: Optional[List[Optional[Converter]]], rest: Optional[Converter]) -> Converter:
    """`items`: the positional types (tuple[int, str]); `rest`: the type of tuple[T, ...]."""

    def convert(value: Any, loc: Loc, errors: Errors, context: Context) -> Any:
        elements = _items_of(value, loc, errors, context, "tuple_type", "tuple", tuple)
        if elements is INVALID:
            return INVALID
        count = len(errors)
        result = []
        for index, element in enumerate(elements):
            if items is not None and index >= len(items):
                break
            convert_item = items[index] if items is not None else rest
            result.append(element if convert_item is None else convert_item(element, (*loc, index), errors, context))
        if items is not None:
            for index in range(len(elements), len(items)):
                _error(errors, (*loc, index), "missing", "Field required")
            if len(elements) > len(items):
                _error(
                    errors,
                    loc,
                    "too_long",
                    "Tuple should have at most %d item%s after validation, not %d"
                    % (len(items), "" if len(items) == 1 else "s", len(elements)),
                )
        return INVALID if len(errors) > count else tuple(result)

    return convert


def dict_converter(key: Optional[Converter], item: Optional[Converter]) -> Converter:
    def convert(value: Any, loc: Loc, errors: Errors, context: Context) -> Any:
        if type(value) is not dict:
            return _error(errors, loc, "dict_type", "Input should be a valid dictionary")
        if key is None and item is None:
            return value
        count = len(errors)
        result = {}
        for name, element in value.items():
            new_key = name if key is None else key(name, (*loc, name, "[key]"), errors, context)
            new_value = element if item is None else item(element, (*loc, name), errors, context)
            if new_key is not INVALID and new_value is not INVALID:
                try:
                    result[new_key] = new_value
                except TypeError:
                    _error(errors, (*loc, name, "[key]"), "dict_type", "Input should be a valid dictionary")
        return INVALID if len(errors) > count else result

    return convert


# ---- unions ----------------------------------------------------------------------------


def optional_converter(inner: Converter) -> Converter:
    def convert(value: Any, loc: Loc, errors: Errors, context: Context) -> Any:
        return None if value is None else inner(value, loc, errors, context)

    return convert


def union_converter(members: List[Tuple[str, Optional[Converter]]]) -> Converter:
    """pydantic's "smart" union: the member the value matches most exactly, else the first
    member lax mode converts it to. Errors name each member, as pydantic's do."""

    def convert(value: Any, loc: Loc, errors: Errors, context: Context) -> Any:
        best: Any = INVALID
        best_exactness = -1
        for _tag, member in members:
            if member is None:
                return value
            attempt = Context(strict=True)
            scratch: Errors = []
            result = member(value, loc, scratch, attempt)
            if not scratch and attempt.exactness > best_exactness:
                best, best_exactness = result, attempt.exactness
                if best_exactness == EXACT:
                    break
        if best_exactness >= 0:
            context.lower(best_exactness)
            return best
        if context.strict:
            return _error(errors, loc, "union_tag_invalid", "Input matches no member of the union exactly")
        failures: Errors = []
        for tag, member in members:
            attempt = Context()
            scratch = []
            result = member(value, (*loc, tag), scratch, attempt)  # type: ignore[misc]
            if not scratch:
                context.lower(LAX)
                return result
            failures.extend(scratch)
        errors.extend(failures)
        return INVALID

    return convert


# ---- annotations -----------------------------------------------------------------------

_UNION_TYPES = tuple(t for t in (typing.Union, getattr(types, "UnionType", None)) if t is not None)
_LIST_ORIGINS = (
    list,
    collections.abc.Sequence,
    collections.abc.MutableSequence,
    collections.abc.Iterable,
    collections.abc.Collection,
)
_SET_ORIGINS = (set, collections.abc.Set, collections.abc.MutableSet)
_DICT_ORIGINS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)
_SCALARS: Dict[Any, Converter] = {
    int: to_int,
    float: to_float,
    bool: to_bool,
    str: to_str,
    bytes: to_bytes,
    None: to_none,
    type(None): to_none,
}


def converter(hint: Any) -> Optional[Converter]:
    """The converter for an annotation, or None when values of it pass unchanged."""
    if hint is typing.Any or hint is object or isinstance(hint, (str, typing.ForwardRef, typing.TypeVar)):
        return None
    scalar = _SCALARS.get(hint) if _hashable(hint) else None
    if scalar is not None:
        return scalar
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Annotated:
        return converter(args[0])
    if origin in _UNION_TYPES:
        members = [arg for arg in args if arg is not type(None)]
        if len(members) < len(args) and len(members) == 1:
            inner = converter(members[0])
            return None if inner is None else optional_converter(inner)
        return union_converter([(_tag(arg), converter(arg)) for arg in args])
    if origin is typing.Literal:
        return literal_converter(args)
    if origin is tuple or hint is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple_converter(None, converter(args[0]))
        if args == ((),):
            return tuple_converter([], None)
        return tuple_converter([converter(arg) for arg in args], None) if args else tuple_converter(None, None)
    if origin in _LIST_ORIGINS or hint is list:
        return list_converter(converter(args[0]) if args else None)
    if origin in _SET_ORIGINS or origin is frozenset or hint in (set, frozenset):
        return set_converter(converter(args[0]) if args else None, frozen=origin is frozenset or hint is frozenset)
    if origin in _DICT_ORIGINS or hint is dict:
        return dict_converter(*(converter(arg) for arg in args)) if len(args) == 2 else dict_converter(None, None)
    if isinstance(hint, type):
        return _class_converter(hint)
    return None


def _hashable(hint: Any) -> bool:
    try:
        hash(hint)
        return True
    except TypeError:
        return False


def _class_converter(cls: type) -> Optional[Converter]:
    if issubclass(cls, enum.Enum):
        return enum_converter(cls)
    from fal.toolkit.file import File
    from kiln_harness.schema import is_pydantic_model

    if issubclass(cls, File):
        return _value_error_converter(cls._validate)
    if is_pydantic_model(cls):
        return model_converter(cls)
    return None


def _value_error_converter(validate: Callable[[Any], Any]) -> Converter:
    def convert(value: Any, loc: Loc, errors: Errors, context: Context) -> Any:
        context.lower(LAX)
        try:
            return validate(value)
        except ValueError as error:
            return _error(errors, loc, "value_error", "Value error, %s" % error)

    return convert


def model_converter(model: Any) -> Converter:
    """A pydantic model validates its own fields (pydantic 1 or 2, whichever the app has)."""

    def convert(value: Any, loc: Loc, errors: Errors, context: Context) -> Any:
        context.lower(LAX)
        try:
            return validate_model(model, value, loc)
        except InputError as error:
            errors.extend(error.detail)
            return INVALID

    return convert


def validate_model(model: Any, value: Any, loc: Loc) -> Any:
    try:
        if hasattr(model, "model_validate"):
            return model.model_validate(value)
        return model.parse_obj(value)
    except Exception as error:
        if type(error).__name__ != "ValidationError" or not callable(getattr(error, "errors", None)):
            raise
        raise InputError(
            [
                {
                    "loc": ["body", *loc, *item.get("loc", ())],
                    "msg": item.get("msg", ""),
                    "type": item.get("type", "value_error"),
                }
                for item in error.errors()
            ]
        ) from None


def _tag(hint: Any) -> str:
    """How pydantic names a union member in an error's location: int, str, list[int]…"""
    if hint is None or hint is type(None):
        return "none"
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return "literal[%s]" % ",".join(repr(arg) for arg in typing.get_args(hint))
    if origin is not None:
        args = ",".join(_tag(arg) for arg in typing.get_args(hint))
        name = getattr(origin, "__name__", str(origin))
        return "%s[%s]" % (name, args) if args else name
    return getattr(hint, "__name__", repr(hint))


def convert(hint_converter: Converter, value: Any, loc: Loc = ()) -> Any:
    """`value` converted, or InputError with every problem found."""
    errors: Errors = []
    result = hint_converter(value, loc, errors, Context())
    if errors:
        raise InputError(errors)
    return result

