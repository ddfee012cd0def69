"""A build context given as a tar (a file, or `-`: stdin, plain or
compressed), unpacked into the build's scratch dir through cp's extractor
(no member may climb out, links are made inside). `docker build - <
Dockerfile` is the other meaning of `-`: text that is no archive is the
Dockerfile itself, with an empty context."""
from __future__ import annotations

import io
import os
import tarfile

from minictr.build.errors import BuildError
from minictr.engine.errors import EngineError
from minictr.engine.extract import extract, tar_nodes


def unpack(data: bytes, dest: str) -> str | None:
    """Unpacks `data` into `dest` when it is a tar; else returns it as the
    Dockerfile's text (None when it was an archive)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*"):
            pass
    except tarfile.TarError:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise BuildError("the build context on stdin is neither a tar archive nor a Dockerfile") from None
    os.makedirs(dest, mode=0o700, exist_ok=True)
    fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        extract(tar_nodes(io.BytesIO(data)), fd, (0, 0))
    except EngineError as e:
        raise BuildError(f"the build context archive: {e}") from None
    finally:
        os.close(fd)
    return None
