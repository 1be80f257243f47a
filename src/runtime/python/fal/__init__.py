"""A local stand-in for fal's SDK: what an app file needs to import and run unchanged
(`fal.App`, `fal.endpoint`, `fal.Volume`, the exceptions, `fal.toolkit`)."""
from fal import toolkit
from fal.app import App, RouteSignature, Volume, endpoint
from fal.exceptions import (
    AppException,
    CUDAOutOfMemoryException,
    FalServerlessException,
    FieldException,
    RequestCancelledException,
)

__all__ = [
    "App",
    "AppException",
    "CUDAOutOfMemoryException",
    "FalServerlessException",
    "FieldException",
    "RequestCancelledException",
    "RouteSignature",
    "Volume",
    "endpoint",
    "toolkit",
]
