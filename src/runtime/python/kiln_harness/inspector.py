"""Inspect mode: what an imported App class declares (InspectedApp in workerProtocol.ts).

Nothing here runs the app's setup; values are read from the class as Python evaluated it,
and source positions from the file's syntax tree.
"""
from __future__ import annotations

import ast
import inspect
import math
import re
import sys
import tokenize
from typing import Any, Dict, List, Optional, Tuple

from kiln_harness.endpoints import Endpoint, collect_endpoints
from kiln_harness.schema import json_value, model_schema, type_schema

_EMPTY = inspect.Parameter.empty
_NAME_PART = re.compile(r"[A-Z]+(?![a-z])\d*|[A-Z]?[a-z]+\d*|\d+")


def kebab_case(class_name: str) -> str:
    """TextToImage -> text-to-image, Gpt2App -> gpt2-app, SDXLTurbo -> sdxl-turbo."""
    return "-".join(part.lower() for part in _NAME_PART.findall(class_name))


def encode_value(value: Any) -> Any:
    """An option value as JSON: fal.Volume as {"$volume": name}, tuples as lists, and
    anything JSON cannot hold as {"$repr": repr(value)}."""
    from fal.app import Volume

    if isinstance(value, Volume):
        return {"$volume": encode_value(value.name)}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$repr": repr(value)}
    if isinstance(value, (list, tuple)):
        return [encode_value(item) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: encode_value(item) for key, item in value.items()}
    try:
        return {"$repr": repr(value)}
    except Exception:
        return {"$repr": "<%s>" % type(value).__name__}


class SourceIndex:
    """Parsed source files, for `def`/`class` lines and annotations as they were written."""

    def __init__(self) -> None:
        self._files: Dict[str, Optional[Tuple[str, ast.Module]]] = {}

    def _parsed(self, filename: str) -> Optional[Tuple[str, ast.Module]]:
        if filename not in self._files:
            try:
                with tokenize.open(filename) as handle:
                    source = handle.read()
                self._files[filename] = (source, ast.parse(source, filename))
            except (OSError, SyntaxError, ValueError):
                self._files[filename] = None
        return self._files[filename]

    def class_line(self, cls: type) -> Optional[int]:
        filename = getattr(sys.modules.get(cls.__module__), "__file__", None)
        parsed = self._parsed(filename) if filename else None
        if parsed is not None:
            lines = [node.lineno for node in _module_level(parsed[1].body) if node.name == cls.__name__]
            if lines:
                return lines[-1]  # a name defined twice is bound to the last definition
        try:
            return inspect.getsourcelines(cls)[1]
        except (OSError, TypeError):
            return None

    def function(self, function: Any) -> Tuple[Optional[str], Optional[ast.AST]]:
        """(source text, def node) of a function, when its file can be read."""
        code = getattr(inspect.unwrap(function), "__code__", None)
        parsed = self._parsed(code.co_filename) if code else None
        if parsed is None:
            return None, None
        for node in ast.walk(parsed[1]):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == code.co_name:
                first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
                if first == code.co_firstlineno or node.lineno == code.co_firstlineno:
                    return parsed[0], node
        return parsed[0], None


def _module_level(body: List[ast.stmt]):
    """Class definitions executed at module level, including inside if/try/with blocks."""
    for node in body:
        if isinstance(node, ast.ClassDef):
            yield node
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(node, field, None)
                if isinstance(inner, list):
                    yield from _module_level([item for item in inner if isinstance(item, ast.AST)])


def inspect_app(cls: type, sources: SourceIndex) -> Dict[str, Any]:
    keywords = class_keywords(cls)
    name = keywords.get("name")
    options = [(key, value, "keyword") for key, value in keywords.items()]
    options += [(key, value, "attribute") for key, value in class_attributes(cls).items()]
    return {
        "className": cls.__name__,
        "line": sources.class_line(cls),
        "defaultName": name if isinstance(name, str) and name else kebab_case(cls.__name__),
        "options": [{"key": key, "value": encode_value(value), "source": source} for key, value, source in options],
        "endpoints": [describe_endpoint(endpoint, sources) for endpoint in collect_endpoints(cls)],
        "methods": [
            name
            for name, value in vars(cls).items()
            if inspect.isfunction(value) or isinstance(value, (staticmethod, classmethod, property))
        ],
    }


def class_keywords(cls: type) -> Dict[str, Any]:
    """Class keywords, a base's included as fal merges them; `name` only from the class itself."""
    merged: Dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        own = vars(klass).get("_kiln_class_keywords")
        if own:
            merged.update((key, value) for key, value in own.items() if klass is cls or key != "name")
    return merged


def class_attributes(cls: type) -> Dict[str, Any]:
    """Public plain-value attributes from the class body and its bases outside fal."""
    found: Dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        module = klass.__module__ or ""
        if module == "builtins" or module == "fal" or module.startswith("fal."):
            continue
        for key, value in vars(klass).items():
            # Functions, properties, class/static methods are descriptors; plain values are not.
            if key.startswith("_") or callable(value) or hasattr(type(value), "__get__") or inspect.ismodule(value):
                continue
            found[key] = value
    return found


def describe_endpoint(endpoint: Endpoint, sources: SourceIndex) -> Dict[str, Any]:
    source, node = sources.function(endpoint.function)
    described: Dict[str, Any] = {
        "path": encode_value(endpoint.path),
        "functionName": endpoint.attribute,
        "parameters": [
            {
                "name": parameter.name,
                "annotation": _annotation_text(parameter, source, node),
                "hasDefault": parameter.default is not _EMPTY,
            }
            for parameter in endpoint.parameters
        ],
        "isAsync": endpoint.is_async,
        "line": node.lineno if node is not None else _code_line(endpoint.function),
    }
    try:
        described["inputSchema"] = input_schema(endpoint)
    except Exception as error:
        # A model pydantic cannot describe still serves; the endpoint is just unconstrained.
        sys.stderr.write(
            "kiln worker: cannot build the input schema of %s: %s: %s\n"
            % (endpoint.attribute, type(error).__name__, error)
        )
        described["inputSchema"] = {"title": endpoint.attribute, "type": "object"}
    if endpoint.model is not None:
        described["pydanticModel"] = endpoint.model.__name__
    return described


def input_schema(endpoint: Endpoint) -> Dict[str, Any]:
    if endpoint.model is not None:
        schema = model_schema(endpoint.model)
        schema["title"] = endpoint.attribute
        return schema
    properties: Dict[str, Any] = {}
    for parameter in endpoint.parameters:
        prop = dict(type_schema(endpoint.hints.get(parameter.name, Any)))
        if parameter.default is not _EMPTY:
            try:
                prop["default"] = json_value(parameter.default)
            except (TypeError, ValueError):
                pass  # a default JSON cannot hold is still the default; the schema just omits it
        properties[parameter.name] = prop
    schema: Dict[str, Any] = {"title": endpoint.attribute, "type": "object", "properties": properties}
    if endpoint.required:
        schema["required"] = list(endpoint.required)
    if not endpoint.takes_extra:
        schema["additionalProperties"] = False
    return schema


def _annotation_text(parameter: inspect.Parameter, source: Optional[str], node: Optional[ast.AST]) -> Optional[str]:
    if node is not None and source is not None:
        arguments = node.args  # type: ignore[attr-defined]
        for arg in arguments.posonlyargs + arguments.args + arguments.kwonlyargs:
            if arg.arg == parameter.name:
                if arg.annotation is None:
                    return None
                text = ast.get_source_segment(source, arg.annotation)
                if text is not None:
                    return text
    annotation = parameter.annotation
    if annotation is _EMPTY:
        return None
    return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)


def _code_line(function: Any) -> Optional[int]:
    code = getattr(inspect.unwrap(function), "__code__", None)
    return code.co_firstlineno if code else None
