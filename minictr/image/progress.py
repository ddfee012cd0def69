"""Progress of long image operations (pull, push, load), as events.

The image code reports what happens to each layer; the CLI decides how to
show it (docker's redrawn per-layer bars on a terminal, plain lines
otherwise). Reporting from several download threads at once is expected.
"""
from __future__ import annotations


class Progress:
    """Receives events; this base class ignores them (library use, tests)."""

    def layer(self, layer_id: str, status: str, current: int | None = None, total: int | None = None) -> None:
        """`status` as docker words it: Pulling fs layer, Waiting, Downloading,
        Verifying Checksum, Download complete, Extracting, Pull complete,
        Already exists, Pushing, Pushed, Layer already exists, Mounted from ..."""

    def message(self, text: str) -> None:
        """A line about the whole operation (Digest: ..., Status: ...)."""


def layer_id(digest: str) -> str:
    """The 12-character id docker shows for a layer."""
    return digest.split(":", 1)[-1][:12]
