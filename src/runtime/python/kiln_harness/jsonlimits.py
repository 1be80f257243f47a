"""JSON decoding with a nesting limit checked before anything recurses.

Python's json module recurses once per nested array or object, so a value a few thousand
levels deep raises RecursionError from inside the decoder (and would from anything walking
the result). The depth is measured first, by a flat scan, and a value past the limit is
refused with TooDeep, a ValueError like any other undecodable input. The runtime refuses such
bodies before they reach a worker; this is the worker's own guard, for frames and for any
transport that hands it request bodies.
"""
from __future__ import annotations

import json
import os
import re
from typing import Any, List, Tuple

DEFAULT_MAX_DEPTH = 200
"""Nesting levels a request body may have (the runtime's --max-json-depth): as deep as
pydantic's own JSON parser goes, and far below Python's recursion limit, which the app's code
has to live within too."""

_decode = json.JSONDecoder().decode
# A string (escapes included) or a bracket; anything between them cannot change the depth.
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[][{}]', re.DOTALL)
_OPENERS = (ord("["), ord("{"))
_QUOTE = ord('"')


class TooDeep(ValueError):
    def __init__(self, max_depth: int) -> None:
        super().__init__("arrays and objects are nested more than %d levels deep" % max_depth)
        self.max_depth = max_depth


def configured_max_depth() -> int:
    """The runtime's limit, which it passes to its workers as KILN_MAX_JSON_DEPTH."""
    try:
        value = int(os.environ.get("KILN_MAX_JSON_DEPTH", ""))
    except ValueError:
        return DEFAULT_MAX_DEPTH
    return value if value >= 1 else DEFAULT_MAX_DEPTH


def _deep_spans(data: bytes, max_depth: int) -> List[Tuple[int, int]]:
    """The spans of the members of the top-level array or object that nest past `max_depth`
    (at least 1, so whatever goes too deep lies inside such a member)."""
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return []  # too few brackets to go that deep: the common case costs two counts
    spans: List[Tuple[int, int]] = []
    depth = 0
    member_start = 0
    member_too_deep = False
    for match in _TOKEN.finditer(data):
        char = data[match.start()]
        if char == _QUOTE:
            continue
        if char in _OPENERS:
            depth += 1
            if depth == 2:
                member_start, member_too_deep = match.start(), False
            if depth > max_depth:
                member_too_deep = True
        else:
            if depth == 2 and member_too_deep:
                spans.append((member_start, match.end()))
                member_too_deep = False
            depth -= 1
    if member_too_deep:  # unbalanced: the member never closed (and the text is no JSON)
        spans.append((member_start, len(data)))
    return spans


def loads(data: bytes, max_depth: int) -> Any:
    """The JSON value in `data`; TooDeep past `max_depth` levels, ValueError if not JSON."""
    if _deep_spans(data, max_depth):
        raise TooDeep(max_depth)
    return _loads(data)


def loads_pruned(data: bytes, max_depth: int) -> Tuple[Any, bool]:
    """Like loads, but a member of the top-level object or array that nests too deep is read
    as null instead, so what is around it (a request's id) can still be answered. Returns the
    value and whether anything was pruned."""
    spans = _deep_spans(data, max_depth)
    if not spans:
        return _loads(data), False
    pieces = []
    position = 0
    for start, end in spans:
        pieces += [data[position:start], b"null"]
        position = end
    pieces.append(data[position:])
    return _loads(b"".join(pieces)), True


def _loads(data: bytes) -> Any:
    try:
        return _decode(data.decode())  # UnicodeDecodeError is a ValueError too
    except RecursionError:
        # Only when the limit was set near the interpreter's own: still just bad input.
        raise ValueError("nested too deeply for this interpreter's recursion limit") from None
