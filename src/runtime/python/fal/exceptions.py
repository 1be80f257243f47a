"""Exceptions an endpoint raises to choose its HTTP answer, with fal's names and fields.

`AppException(message, status_code)` answers `status_code` with `{"detail": message}`;
`FieldException(field, message)` answers 422 with fal's validation shape
`{"detail": [{"loc": ["body", field], "msg": message, "type": "value_error"}]}`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List


class FalServerlessException(Exception):
    """Base class of the exceptions below."""


@dataclass
class AppException(FalServerlessException):
    """Ends the request with `status_code` and `{"detail": message}`."""

    message: str
    status_code: int

    def __str__(self) -> str:
        return str(self.message)


@dataclass
class FieldException(FalServerlessException):
    """Ends the request with a 422 naming one input field, as a validation failure does."""

    field: str
    message: str
    status_code: int = 422
    type: str = "value_error"

    def __str__(self) -> str:
        return "%s: %s" % (self.field, self.message)

    def to_pydantic_format(self) -> Dict[str, List[Dict[str, Any]]]:
        return {"detail": [{"loc": ["body", self.field], "msg": self.message, "type": self.type}]}


@dataclass
class RequestCancelledException(FalServerlessException):
    """Raised by an endpoint that notices its caller went away; answers 499."""

    message: str = "Request cancelled by the client."

    def __str__(self) -> str:
        return str(self.message)


@dataclass
class CUDAOutOfMemoryException(AppException):
    """The GPU ran out of memory: answers 503 and the runner is replaced."""

    message: str = "CUDA error: out of memory"
    status_code: int = 503
