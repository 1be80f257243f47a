"""fal.toolkit.File: a file an endpoint returns, stored by the runtime and answered as a URL.

A File built from bytes or a path is stored the first time its URL is needed (when the
endpoint's output is serialized, or when the code reads `.url`), then answers as
`{"url", "content_type", "file_name", "file_size"}` like fal's File.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Optional

from fal import _storage


class File:
    """A stored file, or one waiting to be stored.

    `File(url=...)` describes a file that already lives somewhere (this is also what a
    pydantic field typed `File` builds from a `{"url": ...}` input).
    """

    def __init__(
        self,
        *,
        url: Optional[str] = None,
        content_type: Optional[str] = None,
        file_name: Optional[str] = None,
        file_size: Optional[int] = None,
    ) -> None:
        self._url = url
        self.content_type = content_type
        self.file_name = file_name
        self.file_size = file_size
        self._data: Optional[bytes] = None
        self._source_path: Optional[str] = None
        self._extension: Optional[str] = None

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        content_type: Optional[str] = None,
        file_name: Optional[str] = None,
        repository: Any = None,
    ) -> "File":
        """A file holding `data`. `repository` is accepted for fal compatibility: the
        runtime always stores files in its own files folder."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("File.from_bytes takes bytes, not %s" % type(data).__name__)
        data = bytes(data)
        file = cls(
            content_type=content_type or _storage.content_type_for(file_name),
            file_name=file_name,
            file_size=len(data),
        )
        file._data = data
        return file

    @classmethod
    def from_path(
        cls,
        path: "str | os.PathLike[str]",
        content_type: Optional[str] = None,
        repository: Any = None,
    ) -> "File":
        """A copy of the file at `path` (copied when stored, so write it completely first)."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError("File.from_path: no file at %s" % path)
        name = os.path.basename(path)
        file = cls(
            content_type=content_type or _storage.content_type_for(name),
            file_name=name,
            file_size=os.path.getsize(path),
        )
        file._source_path = path
        return file

    @property
    def url(self) -> str:
        if self._url is None:
            self.save()
        return self._url  # type: ignore[return-value]

    def save(self) -> str:
        """Store the file (once) and return its URL."""
        if self._url is not None:
            return self._url
        extension = self._extension or _storage.extension_for(self.file_name, self.content_type)
        if self._data is not None:
            self._url = _storage.store_bytes(self._data, extension)
            self._data = None
        elif self._source_path is not None:
            self._url = _storage.store_copy(self._source_path, extension)
        else:
            raise ValueError("this %s has neither a url nor data to store" % type(self).__name__)
        if self.file_name is None:
            self.file_name = self._url.rsplit("/", 1)[-1]
        return self._url

    def to_dict(self) -> Dict[str, Any]:
        """fal's JSON form; stores the file first if it is not stored yet."""
        return {
            "url": self.url,
            "content_type": self.content_type,
            "file_name": self.file_name,
            "file_size": self.file_size,
        }

    def __repr__(self) -> str:
        where = self._url or ("<%d bytes, not stored yet>" % (self.file_size or 0))
        return "%s(%s)" % (type(self).__name__, where)

    # ---- pydantic integration (pydantic is optional: these run only when a model uses the type)

    @classmethod
    def _json_schema(cls) -> Dict[str, Any]:
        return {
            "title": cls.__name__,
            "type": "object",
            "properties": {
                "url": {"type": "string"},
                "content_type": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "file_name": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "file_size": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            },
            "required": ["url"],
        }

    @classmethod
    def _validate(cls, value: Any) -> "File":
        if isinstance(value, cls):
            return value
        if isinstance(value, dict) and isinstance(value.get("url"), str):
            known = cls._json_schema()["properties"]
            return cls(**{key: val for key, val in value.items() if key in known})
        raise ValueError("expected a %s or an object with a url" % cls.__name__)

    @classmethod
    def __get_validators__(cls):  # pydantic 1
        yield cls._validate

    @classmethod
    def __modify_schema__(cls, field_schema: Dict[str, Any]) -> None:  # pydantic 1
        field_schema.update(cls._json_schema())

    @classmethod
    def __get_pydantic_core_schema__(cls, source_type: Any, handler: Any) -> Any:  # pydantic 2
        from pydantic_core import core_schema

        return core_schema.no_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda value: value.to_dict(), when_used="json"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> Dict[str, Any]:  # pydantic 2
        return cls._json_schema()
