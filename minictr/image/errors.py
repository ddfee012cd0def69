"""Errors of the image path, each naming what was wrong."""
from minictr.errors import MinictrError


class ImageError(MinictrError):
    """Something about an image, a manifest or a blob is wrong."""


class DigestMismatch(ImageError):
    """Content did not hash to the digest it was fetched or stored under."""

    def __init__(self, what: str, expected: str, actual: str):
        super().__init__(f"digest mismatch for {what}: expected {expected}, got {actual}")
        self.expected, self.actual = expected, actual


class LayerError(ImageError):
    """A layer tar entry that cannot be unpacked safely; names the entry."""

    def __init__(self, entry: str, reason: str, layer: str = ""):
        where = f" in layer {layer}" if layer else ""
        shown = entry if len(entry) <= 200 else entry[:120] + f"...({len(entry)} bytes)"
        super().__init__(f"refusing tar entry {shown!r}{where}: {reason}")
        self.entry, self.reason, self.layer = entry, reason, layer


class RegistryError(ImageError):
    """The registry answered with an error (status and its message)."""


class AuthError(RegistryError):
    """Credentials were refused or a token could not be obtained."""


class NotFound(ImageError):
    """No such image, tag, manifest or blob."""
