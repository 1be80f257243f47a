"""The @fal.endpoint methods of an App class: their parameters, types, and how a request's
input becomes their arguments."""
from __future__ import annotations

import inspect
import typing
from typing import Any, Dict, List, Optional

from kiln_harness.coercion import Context, Converter, InputError, converter, validate_model
from kiln_harness.schema import is_pydantic_model

_EMPTY = inspect.Parameter.empty
_NAMED_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


class Endpoint:
    """One endpoint of an App class, read once and used for every request."""

    def __init__(self, attribute: str, function: Any, path: Any, is_websocket: bool) -> None:
        self.attribute = attribute
        self.function = function
        self.path = path
        self.is_websocket = is_websocket
        unwrapped = inspect.unwrap(function)
        self.is_async = inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(unwrapped)
        self.signature = inspect.signature(function)
        every_parameter = list(self.signature.parameters.values())
        all_parameters = every_parameter[1:]  # after self
        self.parameters = [p for p in all_parameters if p.kind in _NAMED_KINDS]
        self.takes_extra = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in all_parameters)
        # What **extra cannot take: the name the instance is bound to ("self").
        self.bound_name = every_parameter[0].name if every_parameter else None
        self.hints = _type_hints(function, self.parameters)
        plain = {name: _without_annotated(hint) for name, hint in self.hints.items()}
        self.names = frozenset(p.name for p in self.parameters)
        self.required = [p.name for p in self.parameters if p.default is _EMPTY]
        # One parameter typed with a pydantic model: the whole body is that model.
        self.model: Optional[type] = None
        if len(self.parameters) == 1 and is_pydantic_model(plain.get(self.parameters[0].name)):
            self.model = plain[self.parameters[0].name]
        # Each parameter's input is converted to its annotated type (a model validates its own).
        self.converters: Dict[str, Converter] = {}
        if self.model is None:
            for name, hint in self.hints.items():
                convert = converter(hint) if name in self.names else None
                if convert is not None:
                    self.converters[name] = convert

    def bind(self, data: Any) -> Dict[str, Any]:
        """Keyword arguments for a call with the request's input, or InputError."""
        if self.model is not None:
            return {self.parameters[0].name: validate_model(self.model, data, ())}
        if type(data) is not dict:
            raise InputError([{"loc": ["body"], "msg": "Input should be a valid dictionary", "type": "dict_type"}])
        problems: List[Dict[str, Any]] = []
        arguments = dict(data)
        context = Context()
        for parameter in self.parameters:
            name = parameter.name
            if name not in data:
                if parameter.default is _EMPTY:
                    problems.append({"loc": ["body", name], "msg": "Field required", "type": "missing"})
                continue
            convert = self.converters.get(name)
            if convert is not None:
                arguments[name] = convert(data[name], (name,), problems, context)
        problems += [
            {"loc": ["body", key], "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}
            for key in data
            if key not in self.names and (not self.takes_extra or key == self.bound_name)
        ]
        if problems:
            raise InputError(problems)
        return arguments


def collect_endpoints(cls: type) -> List[Endpoint]:
    """The class's endpoints in the order they are defined (bases first)."""
    from fal.app import RouteSignature

    names: List[str] = []
    for klass in reversed(cls.__mro__):
        names.extend(name for name in vars(klass) if name not in names)
    endpoints = []
    for name in names:
        value = inspect.getattr_static(cls, name)
        # callable() first: plain class attributes (a model object, say) are never asked for more.
        signature = getattr(value, "route_signature", None) if callable(value) else None
        if isinstance(signature, RouteSignature):
            endpoints.append(Endpoint(name, value, signature.path, signature.is_websocket))
    return endpoints


def _type_hints(function: Any, parameters: List[inspect.Parameter]) -> Dict[str, Any]:
    try:
        return typing.get_type_hints(function, include_extras=True)
    except Exception:
        # One unresolvable name (a type only imported under TYPE_CHECKING, say) must not
        # cost the others their types: resolve parameter by parameter.
        namespace = getattr(inspect.unwrap(function), "__globals__", {})
        hints = {}
        for parameter in parameters:
            annotation = parameter.annotation
            if isinstance(annotation, str):
                try:
                    annotation = eval(annotation, namespace)  # what get_type_hints does
                except Exception:
                    pass
            if annotation is not _EMPTY:
                hints[parameter.name] = annotation
        return hints


def _without_annotated(hint: Any) -> Any:
    return typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint
