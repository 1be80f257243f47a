"""Where saved images and files go: the runtime's files folder, served at its files URL.

Names are random (unguessable, so a URL is the only way to a file) and keep the
extension, so whatever serves the folder can pick the content type from it.
Modules needed only once a file is saved are imported then, to keep `import fal` (part
of every cold start) light.
"""
from __future__ import annotations

import os
import re
from typing import Optional

_EXTENSION = re.compile(r"^\.[A-Za-z0-9]{1,12}$")


def _files_dir() -> str:
    folder = os.environ.get("KILN_FILES_DIR")
    if not folder:
        # Outside a runner (a user's own test of their app) files still land somewhere real.
        import tempfile

        folder = os.path.join(tempfile.gettempdir(), "kiln-files")
    os.makedirs(folder, exist_ok=True)
    return folder


def _url_for(path: str, name: str) -> str:
    base = os.environ.get("KILN_FILES_URL")
    if base:
        return base.rstrip("/") + "/" + name
    from pathlib import Path

    return Path(path).as_uri()


def extension_for(file_name: Optional[str], content_type: Optional[str]) -> str:
    """The extension a stored file keeps: the file name's, else the content type's, else none."""
    if file_name:
        ext = os.path.splitext(file_name)[1].lower()
        if _EXTENSION.match(ext):
            return ext
    if content_type:
        import mimetypes

        ext = mimetypes.guess_extension(content_type.split(";")[0].strip(), strict=False)
        if ext:
            return ext
    return ""


def content_type_for(file_name: Optional[str]) -> str:
    if not file_name:
        return "application/octet-stream"
    import mimetypes

    return mimetypes.guess_type(file_name)[0] or "application/octet-stream"


def _new_path(extension: str):
    name = os.urandom(16).hex() + extension
    return os.path.join(_files_dir(), name), name


def store_bytes(data: bytes, extension: str) -> str:
    """Write `data` under a new random name and return its URL."""
    path, name = _new_path(extension)
    # "x": a name collision must fail rather than overwrite someone else's file.
    with open(path, "xb") as out:
        out.write(data)
    return _url_for(path, name)


def store_copy(source: str, extension: str) -> str:
    """Copy the file at `source` under a new random name and return its URL."""
    import shutil

    path, name = _new_path(extension)
    with open(source, "rb") as src, open(path, "xb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
    return _url_for(path, name)
