"""Turning what an endpoint returned or raised into fal's answer: the output's JSON text, or an
error's status and `detail` (`Failure`). Transport-free, so the runtime's pipe worker (as a
`result` frame, InvokeResult) and a container's HTTP serve mode answer alike."""
from __future__ import annotations

import dataclasses
import enum
import json
import os
import sys
import traceback
from time import perf_counter
from typing import Any, Dict, NamedTuple, Optional, Tuple

from fal.exceptions import AppException, CUDAOutOfMemoryException, FieldException, RequestCancelledException
from fal.toolkit.file import File
from kiln_harness.coercion import InputError

_HARNESS_DIR = os.path.dirname(os.path.realpath(__file__))


class OutputError(TypeError):
    """The endpoint's return value has no JSON form (its traceback would show only the
    harness, so none is kept)."""


def _to_json(value: Any) -> Any:
    """The JSON form of what json cannot encode by itself (called by the encoder per value)."""
    if isinstance(value, File):
        return value.to_dict()
    kind = type(value)
    if hasattr(kind, "model_dump") and hasattr(kind, "model_fields"):  # pydantic 2
        return value.model_dump(mode="json")
    if hasattr(kind, "__fields__") and hasattr(kind, "parse_obj"):  # pydantic 1
        return value.dict()  # nested values the encoder does not know come back here
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise OutputError("endpoint returned bytes; return a dict or use save_file")
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return list(value)
    if callable(getattr(value, "tolist", None)):  # numpy arrays and scalars
        return value.tolist()
    # A value of these types exists only if its module was imported; serving does not
    # import them for apps that never use them.
    modules = sys.modules
    if "datetime" in modules and isinstance(value, (modules["datetime"].date, modules["datetime"].time)):
        return value.isoformat()
    if "decimal" in modules and isinstance(value, modules["decimal"].Decimal):
        return float(value)
    if ("uuid" in modules and isinstance(value, modules["uuid"].UUID)) or (
        "pathlib" in modules and isinstance(value, modules["pathlib"].PurePath)
    ):
        return str(value)
    raise OutputError(
        "the endpoint's output holds a value of type %s, which has no JSON form; return dicts, "
        "lists, strings, numbers, pydantic models, dataclasses or fal.toolkit files" % kind.__name__
    )


encode_output = json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=_to_json).encode


def output_json(output: Any) -> str:
    """The JSON text of an endpoint's output (encoding stores returned files), or OutputError."""
    try:
        return encode_output(output)
    except ValueError as error:
        message = str(error)
        if message.startswith("Out of range float"):
            raise OutputError("the endpoint's output contains NaN or Infinity, which JSON cannot represent") from None
        if message.startswith("Circular reference"):
            raise OutputError("the endpoint's output contains itself (a circular reference)") from None
        raise


def ok_frame(id_json: str, output: Any, started: float) -> str:
    """The result frame's JSON text; encoding counts as execution."""
    return '{"type":"result","id":%s,"ok":true,"output":%s,"executionMs":%.3f}' % (
        id_json,
        output_json(output),
        (perf_counter() - started) * 1000.0,
    )


def cancelled_frame(request_id: str, started: float) -> Dict[str, Any]:
    return {
        "type": "result",
        "id": request_id,
        "ok": False,
        "status": 499,
        "detail": "Request cancelled",
        "executionMs": round((perf_counter() - started) * 1000.0, 3),
    }


class Failure(NamedTuple):
    """How a request that raised is answered."""

    status: int
    detail: Any
    error_type: str
    traceback: Optional[str]  # None for input errors and cancellations: nothing to debug
    fatal: bool  # the process's GPU state cannot be trusted; its runner must be replaced

    @property
    def unexpected(self) -> bool:
        """Worth a traceback in the logs."""
        return self.status >= 500


def failure_of(error: BaseException) -> Failure:
    status, detail, fatal = classify(error)
    if status == 499:
        return Failure(499, "Request cancelled", type(error).__name__, None, False)
    if isinstance(error, InputError):
        return Failure(status, detail, "RequestValidationError", None, fatal)
    return Failure(status, detail, type(error).__name__, format_traceback(error), fatal)


def error_frame(request_id: str, failure: Failure, started: float) -> Dict[str, Any]:
    """The result frame for a request that raised."""
    if failure.status == 499:
        return cancelled_frame(request_id, started)
    frame: Dict[str, Any] = {
        "type": "result",
        "id": request_id,
        "ok": False,
        "status": failure.status,
        "detail": failure.detail,
        "errorType": failure.error_type,
        "executionMs": round((perf_counter() - started) * 1000.0, 3),
    }
    if failure.traceback is not None:
        frame["traceback"] = failure.traceback
    if failure.fatal:
        frame["fatal"] = True
    return frame


def classify(error: BaseException) -> Tuple[int, Any, bool]:
    """(status, detail, fatal) as fal answers: see InvokeResult in workerProtocol.ts."""
    if isinstance(error, InputError):
        return 422, error.detail, False
    if isinstance(error, FieldException):
        detail = [{"loc": ["body", error.field], "msg": error.message, "type": error.type}]
        return _http_status(error.status_code, 422), detail, False
    if isinstance(error, CUDAOutOfMemoryException) or is_gpu_fault(error):
        return 503, str(error) or "CUDA out of memory", True
    if isinstance(error, AppException):
        return _http_status(error.status_code, 500), error.message, False
    if isinstance(error, RequestCancelledException) or type(error).__name__ == "CancelledError":
        return 499, "Request cancelled", False
    return 500, str(error) or type(error).__name__, False


def _http_status(value: Any, fallback: int) -> int:
    """An exception's status_code when it is one HTTP can carry (an int from 100 to 599)."""
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return value
    sys.stderr.write("kiln worker: status_code %r is not an HTTP status; answering %d\n" % (value, fallback))
    return fallback


def is_gpu_fault(error: BaseException) -> bool:
    """CUDA out of memory or another CUDA failure: the process's GPU state cannot be trusted."""
    if type(error).__name__ == "OutOfMemoryError":  # torch.cuda.OutOfMemoryError, torch.OutOfMemoryError
        return True
    message = str(error)
    return (
        "CUDA error" in message
        or ("CUDA" in message and "out of memory" in message)
        # https://github.com/pytorch/pytorch/issues/112377: how an OOM sometimes surfaces
        or "NVML_SUCCESS == r INTERNAL ASSERT FAILED" in message
    )


def format_traceback(error: BaseException) -> str:
    """The traceback from the first frame outside the harness (the user's handler, usually)."""
    if isinstance(error, OutputError):
        return "OutputError: %s\n" % error
    tb = error.__traceback__
    while tb is not None and os.path.dirname(os.path.realpath(tb.tb_frame.f_code.co_filename)) == _HARNESS_DIR:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(error), error, tb or error.__traceback__))


def log_failure(request_id: str, path: Any, failure: Failure) -> None:
    text = "Request %s to %s failed (%s):\n%s" % (request_id, path, failure.status, failure.traceback or failure.detail)
    try:
        sys.stderr.write(text if text.endswith("\n") else text + "\n")
    except Exception:
        pass  # a user's replacement stderr that fails must not lose the answer
