"""fal.App, fal.endpoint and fal.Volume as app files use them.

The class statement only records what it was given; the runtime reads the recorded
keywords and class attributes, validates them and reports mistakes with their line.
"""
from __future__ import annotations

import os
from typing import Any, Callable, ClassVar, List, Optional, TypeVar, Union

EndpointT = TypeVar("EndpointT", bound=Callable[..., Any])


class RouteSignature:
    """What @fal.endpoint attached to a method."""

    __slots__ = ("path", "is_websocket")

    def __init__(self, path: str, is_websocket: bool = False) -> None:
        self.path = path
        self.is_websocket = is_websocket

    def __repr__(self) -> str:
        return "RouteSignature(path=%r, is_websocket=%r)" % (self.path, self.is_websocket)


def endpoint(path: str, *, is_websocket: bool = False) -> Callable[[EndpointT], EndpointT]:
    """Serve the decorated method at POST `path`; its parameters are the request body's fields."""

    def marker_fn(callable: EndpointT) -> EndpointT:
        if hasattr(callable, "route_signature"):
            raise ValueError("Can't set multiple routes for the same function: %s" % callable.__name__)
        callable.route_signature = RouteSignature(path=path, is_websocket=is_websocket)  # type: ignore[attr-defined]
        return callable

    return marker_fn


class Volume:
    """Persistent storage, mounted where the app's `volumes` mapping says."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return "Volume(%r)" % (self.name,)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Volume) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("fal.Volume", self.name))


class App:
    """Base class of a served app: `class MyApp(fal.App, keep_alive=300): ...`.

    Class keywords (any keyword: the runtime checks them) are recorded on the class that
    names them. Load models in `setup()`, release them in `teardown()`; both may be async.
    """

    machine_type: ClassVar[Union[str, List[str]]] = "S"
    requirements: ClassVar[List[str]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__()
        cls._kiln_class_keywords = dict(kwargs)
        if cls.__init__ is not App.__init__:
            raise ValueError("App classes should not override __init__ directly. Use setup() instead.")

    def __init__(self, *, _allow_init: bool = False) -> None:
        if not _allow_init:
            raise NotImplementedError(
                "fal.App classes are created by the runtime when the app is served; deploy the "
                "app to run it (a test may build one with %s(_allow_init=True))" % type(self).__name__
            )

    def setup(self) -> Any:
        """Runs once when a runner starts, before any request."""

    def teardown(self) -> Any:
        """Runs once when a runner stops, after the last request."""

    def save_image(self, image: Any, format: str = "png") -> str:
        """Store an image and return its URL.

        `image` may be a PIL image (encoded in `format`), a fal.toolkit.Image (stored as
        it is), PNG/JPEG/GIF/WebP bytes (stored as they are) or a uint8 numpy array shaped
        HxWx3 (encoded as PNG, or through PIL for another `format`)."""
        from fal.toolkit.image import to_image

        return to_image(image, format).save()

    def save_file(
        self,
        data_or_path: Any,
        content_type: Optional[str] = None,
        file_name: Optional[str] = None,
    ) -> str:
        """Store bytes, a file path or a fal.toolkit.File and return its URL."""
        from fal.toolkit.file import File

        if isinstance(data_or_path, File):
            return data_or_path.save()
        if isinstance(data_or_path, (bytes, bytearray, memoryview)):
            return File.from_bytes(data_or_path, content_type=content_type, file_name=file_name).save()
        if isinstance(data_or_path, (str, os.PathLike)):
            file = File.from_path(data_or_path, content_type=content_type)
            if file_name:
                file.file_name = file_name
            return file.save()
        raise TypeError(
            "save_file takes bytes, a file path or a fal.toolkit.File, not %s" % type(data_or_path).__name__
        )

