"""The part of fal.toolkit that apps return: File and Image."""
from fal.toolkit.file import File
from fal.toolkit.image import Image

__all__ = ["File", "Image"]
