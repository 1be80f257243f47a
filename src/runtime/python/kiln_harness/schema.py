"""JSON Schema for an endpoint's request body, from its type hints or its pydantic model.

Pydantic is optional: a class is treated as a model only when pydantic is already
imported (a model cannot exist otherwise). Model schemas have every `$ref` into
`$defs`/`definitions` inlined, so the published schema stands on its own.
"""
from __future__ import annotations

import collections.abc
import copy
import enum
import json
import sys
import types
import typing
from typing import Any, Dict, List, Optional, Set

_PRIMITIVES = {str: "string", int: "integer", float: "number", bool: "boolean"}
_NONE = type(None)
_UNION_TYPES = tuple(t for t in (typing.Union, getattr(types, "UnionType", None)) if t is not None)
_ARRAY_ORIGINS = (list, collections.abc.Sequence, collections.abc.MutableSequence, collections.abc.Iterable)
_SET_ORIGINS = (set, frozenset, collections.abc.Set, collections.abc.MutableSet)
_MAP_ORIGINS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


def is_pydantic_model(tp: Any) -> bool:
    """A pydantic BaseModel subclass (pydantic 1, 2, or pydantic.v1 inside 2)."""
    if not isinstance(tp, type) or "pydantic" not in sys.modules:
        return False
    return any(
        base.__name__ == "BaseModel" and base.__module__.split(".")[0] == "pydantic" for base in tp.__mro__[1:]
    )


def json_value(value: Any) -> Any:
    """`value` if it is plain JSON (what a schema default may hold), else raise ValueError."""
    json.dumps(value, allow_nan=False)
    return value


def type_schema(tp: Any) -> Dict[str, Any]:
    """JSON Schema for one annotation; anything it cannot express is left unconstrained ({})."""
    if tp is typing.Any or tp is object or isinstance(tp, (str, typing.ForwardRef)):
        return {}
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return type_schema(args[0])
    if tp is None or tp is _NONE:
        return {"type": "null"}
    primitive = _PRIMITIVES.get(tp) if isinstance(tp, type) else None
    if primitive is not None:
        return {"type": primitive}
    if origin in _UNION_TYPES:
        return _union_schema(args)
    if origin is typing.Literal:
        return _enum_schema(list(args))
    if origin is tuple or tp is tuple:
        return _tuple_schema(args)
    if origin in _SET_ORIGINS or tp in (set, frozenset):
        return {"type": "array", "uniqueItems": True, **_items(args)}
    if origin in _ARRAY_ORIGINS or tp is list:
        return {"type": "array", **_items(args)}
    if origin in _MAP_ORIGINS or tp is dict:
        values = type_schema(args[1]) if len(args) == 2 else {}
        return {"type": "object", "additionalProperties": values} if values else {"type": "object"}
    if isinstance(tp, type):
        return _class_schema(tp)
    return {}


def _union_schema(args: Any) -> Dict[str, Any]:
    options = [type_schema(arg) for arg in args]
    if any(option == {} for option in options):
        return {}
    return {"anyOf": options}


def _enum_schema(values: List[Any]) -> Dict[str, Any]:
    schema: Dict[str, Any] = {"enum": values}
    kinds = {_json_type(value) for value in values}
    if len(kinds) == 1 and None not in kinds:
        schema["type"] = kinds.pop()
    return schema


def _json_type(value: Any) -> Optional[str]:
    if value is None:
        return "null"
    for python_type, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string")):
        if isinstance(value, python_type):
            return name
    return None


def _tuple_schema(args: Any) -> Dict[str, Any]:
    if len(args) == 2 and args[1] is Ellipsis:
        return {"type": "array", **_items(args[:1])}
    if not args:
        return {"type": "array"}
    if args == ((),):  # tuple[()]: the empty tuple
        return {"type": "array", "maxItems": 0}
    return {
        "type": "array",
        "prefixItems": [type_schema(arg) for arg in args],
        "minItems": len(args),
        "maxItems": len(args),
    }


def _items(args: Any) -> Dict[str, Any]:
    if not args:
        return {}
    items = type_schema(args[0])
    return {"items": items} if items else {}


def _class_schema(tp: type) -> Dict[str, Any]:
    if issubclass(tp, enum.Enum):
        return _enum_schema([member.value for member in tp])
    from fal.toolkit.file import File

    if issubclass(tp, File):
        return tp._json_schema()
    if is_pydantic_model(tp):
        return model_schema(tp)
    return {}


def model_schema(model: type) -> Dict[str, Any]:
    """The model's JSON Schema with `$ref`s inlined (recursive models keep their own `$defs`)."""
    if hasattr(model, "model_json_schema"):  # pydantic 2
        return inline_refs(model.model_json_schema())
    return inline_refs(model.schema())  # type: ignore[attr-defined]


_REF_PREFIXES = ("#/$defs/", "#/definitions/")


def inline_refs(schema: Dict[str, Any]) -> Dict[str, Any]:
    schema = dict(schema)
    definitions: Dict[str, Any] = {}
    definitions.update(schema.pop("definitions", None) or {})
    definitions.update(schema.pop("$defs", None) or {})
    recursive: Set[str] = set()

    def ref_name(node: Dict[str, Any]) -> Optional[str]:
        ref = node.get("$ref")
        if isinstance(ref, str):
            for prefix in _REF_PREFIXES:
                if ref.startswith(prefix) and ref[len(prefix) :] in definitions:
                    return ref[len(prefix) :]
        return None

    def resolve(node: Any, open_refs: frozenset) -> Any:
        if isinstance(node, list):
            return [resolve(item, open_refs) for item in node]
        if not isinstance(node, dict):
            return node
        name = ref_name(node)
        siblings = {key: resolve(value, open_refs) for key, value in node.items() if key != "$ref" or name is None}
        if name is not None:
            if name in open_refs:
                # A model that contains itself cannot be inlined; it stays a reference.
                recursive.add(name)
                return {"$ref": "#/$defs/" + name, **siblings}
            target = copy.deepcopy(resolve(definitions[name], open_refs | {name}))
            target.update(siblings)
            return target
        wrapped = siblings.get("allOf")
        if isinstance(wrapped, list) and len(wrapped) == 1 and isinstance(wrapped[0], dict):
            # Pydantic wraps a reference with siblings (a description, a default) in allOf.
            merged = dict(wrapped[0])
            merged.update({key: value for key, value in siblings.items() if key != "allOf"})
            return merged
        return siblings

    result = resolve(schema, frozenset())
    done: Dict[str, Any] = {}
    while recursive - done.keys():
        for name in sorted(recursive - done.keys()):
            done[name] = resolve(definitions[name], frozenset({name}))
    if done:
        result["$defs"] = done
    return result
