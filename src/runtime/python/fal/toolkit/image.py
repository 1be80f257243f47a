"""fal.toolkit.Image: an image an endpoint returns, answered as fal's image object
`{"url", "content_type", "file_name", "file_size", "width", "height"}`.

Needs nothing beyond the standard library: PNG encoding for raw pixels is done here,
and PIL images and numpy arrays are used through their own methods when given.
"""
from __future__ import annotations

import io
import struct
import zlib
from typing import Any, Dict, Optional, Tuple

from fal.toolkit.file import File

# fal's ImageFormat names -> (PIL format name, content type, extension)
_FORMATS = {
    "png": ("PNG", "image/png", ".png"),
    "jpeg": ("JPEG", "image/jpeg", ".jpg"),
    "jpg": ("JPEG", "image/jpeg", ".jpg"),
    "webp": ("WEBP", "image/webp", ".webp"),
    "gif": ("GIF", "image/gif", ".gif"),
}

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour type by channel count: grey, grey+alpha, RGB, RGBA.
_PNG_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}


def _format_info(format: str) -> Tuple[str, str, str]:
    info = _FORMATS.get(str(format).lower())
    if info is None:
        raise ValueError("unknown image format %r: use one of %s" % (format, ", ".join(sorted(_FORMATS))))
    return info


def encode_png(width: int, height: int, pixels: bytes, channels: int = 3) -> bytes:
    """PNG bytes for 8-bit pixels given row by row (channels: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA)."""
    if channels not in _PNG_COLOR_TYPE:
        raise ValueError("PNG pixels need 1, 2, 3 or 4 channels, not %d" % channels)
    if width <= 0 or height <= 0:
        raise ValueError("image size must be positive, got %dx%d" % (width, height))
    stride = width * channels
    view = memoryview(pixels).cast("B")
    if len(view) != stride * height:
        raise ValueError(
            "expected %d bytes for a %dx%d image with %d channels, got %d"
            % (stride * height, width, height, channels, len(view))
        )
    # Each row starts with filter type 0 (none); zlib does the compressing.
    rows = bytearray()
    for top in range(0, stride * height, stride):
        rows.append(0)
        rows += view[top : top + stride]
    header = struct.pack(">IIBBBBB", width, height, 8, _PNG_COLOR_TYPE[channels], 0, 0, 0)
    return b"".join(
        (
            _PNG_SIGNATURE,
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", zlib.compress(bytes(rows), 6)),
            _png_chunk(b"IEND", b""),
        )
    )


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def sniff_image(data: bytes) -> Optional[Tuple[str, Optional[int], Optional[int]]]:
    """(format, width, height) read from the header of PNG, JPEG or GIF bytes, or None."""
    if data.startswith(_PNG_SIGNATURE) and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return "png", width, height
    if data.startswith(b"\xff\xd8\xff"):
        width, height = _jpeg_size(data)
        return "jpeg", width, height
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return "gif", width, height
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp", None, None
    return None


def _jpeg_size(data: bytes) -> Tuple[Optional[int], Optional[int]]:
    # Walk the marker segments to the first start-of-frame, which holds the size.
    pos = 2
    while pos + 9 < len(data):
        if data[pos] != 0xFF:
            return None, None
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        pos += 2 + length
    return None, None


class Image(File):
    """An image file; width and height are known when it was built from pixels or a PIL
    image, or could be read from PNG, JPEG or GIF headers."""

    def __init__(
        self,
        *,
        url: Optional[str] = None,
        content_type: Optional[str] = None,
        file_name: Optional[str] = None,
        file_size: Optional[int] = None,
        width: Optional[int] = None,
        height: Optional[int] = None,
    ) -> None:
        super().__init__(url=url, content_type=content_type, file_name=file_name, file_size=file_size)
        self.width = width
        self.height = height

    @classmethod
    def from_bytes(  # type: ignore[override]
        cls,
        data: bytes,
        format: str,
        size: Any = None,
        file_name: Optional[str] = None,
        repository: Any = None,
    ) -> "Image":
        """An image from encoded bytes (`format`: png, jpeg, webp or gif). `size` may be a
        (width, height) pair or an object with .width and .height; without it the size is
        read from the bytes' header."""
        _, content_type, extension = _format_info(format)
        data = bytes(data)
        width = height = None
        if size is not None:
            width, height = size if isinstance(size, (tuple, list)) else (size.width, size.height)
        else:
            sniffed = sniff_image(data)
            if sniffed is not None:
                _, width, height = sniffed
        image = cls(
            content_type=content_type, file_name=file_name, file_size=len(data), width=width, height=height
        )
        image._data = data
        image._extension = extension
        return image

    @classmethod
    def from_pil(cls, pil_image: Any, format: str = "png", file_name: Optional[str] = None) -> "Image":
        """An image from a PIL image, encoded with PIL in `format`."""
        pil_format = _format_info(format)[0]
        buffer = io.BytesIO()
        if pil_format == "JPEG" and getattr(pil_image, "mode", "RGB") not in ("RGB", "L", "CMYK"):
            # JPEG has no alpha channel; PIL refuses RGBA rather than dropping it.
            pil_image = pil_image.convert("RGB")
        pil_image.save(buffer, format=pil_format)
        width, height = pil_image.size
        return cls.from_bytes(buffer.getvalue(), format, size=(width, height), file_name=file_name)

    @classmethod
    def from_pixels(
        cls, width: int, height: int, rgb_bytes: bytes, file_name: Optional[str] = None
    ) -> "Image":
        """A PNG image from raw 8-bit RGB pixels, row by row (width * height * 3 bytes)."""
        png = encode_png(width, height, rgb_bytes, channels=3)
        return cls.from_bytes(png, "png", size=(width, height), file_name=file_name)

    @classmethod
    def from_array(cls, array: Any, format: str = "png", file_name: Optional[str] = None) -> "Image":
        """An image from a numpy uint8 array shaped HxW, HxWx1, HxWx3 or HxWx4.

        PNG is encoded here; other formats go through PIL, which must then be installed."""
        shape = tuple(getattr(array, "shape", ()))
        dtype = str(getattr(array, "dtype", ""))
        if dtype != "uint8" or len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] not in (1, 3, 4)):
            raise ValueError(
                "an image array must be uint8 shaped HxW, HxWx3 or HxWx4; got dtype %s shape %s "
                "(for floats in 0..1 use (array * 255).clip(0, 255).astype('uint8'))" % (dtype or "?", shape)
            )
        height, width = shape[0], shape[1]
        channels = shape[2] if len(shape) == 3 else 1
        if _format_info(format)[0] == "PNG":
            png = encode_png(width, height, array.tobytes(), channels=channels)
            return cls.from_bytes(png, "png", size=(width, height), file_name=file_name)
        try:
            from PIL import Image as PILImage
        except ImportError:
            raise ValueError(
                "saving an array as %s needs Pillow; add it to requirements or save as png" % format
            ) from None
        pixels = array[:, :, 0] if channels == 1 and len(shape) == 3 else array
        return cls.from_pil(PILImage.fromarray(pixels), format, file_name=file_name)

    def to_dict(self) -> Dict[str, Any]:
        result = super().to_dict()
        result["width"] = self.width
        result["height"] = self.height
        return result

    @classmethod
    def _json_schema(cls) -> Dict[str, Any]:
        schema = super()._json_schema()
        schema["properties"]["width"] = {"anyOf": [{"type": "integer"}, {"type": "null"}]}
        schema["properties"]["height"] = {"anyOf": [{"type": "integer"}, {"type": "null"}]}
        return schema


def to_image(image: Any, format: str = "png") -> Image:
    """An Image from whatever save_image accepts (see App.save_image)."""
    if isinstance(image, Image):
        return image
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
        sniffed = sniff_image(data)
        if sniffed is None:
            raise ValueError(
                "save_image got bytes that are not a PNG, JPEG, GIF or WebP image; "
                "store other data with save_file"
            )
        return Image.from_bytes(data, sniffed[0])
    if callable(getattr(image, "save", None)) and hasattr(image, "size"):
        return Image.from_pil(image, format)
    if hasattr(image, "shape") and hasattr(image, "dtype") and hasattr(image, "tobytes"):
        return Image.from_array(image, format)
    raise TypeError(
        "save_image takes a PIL image, a fal.toolkit.Image, PNG/JPEG bytes or a uint8 "
        "numpy array (HxWx3), not %s" % type(image).__name__
    )
