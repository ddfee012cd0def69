"""Where the pause program is: the pod sandbox's PID 1 (cshim/pause.c),
built static by `pip install` and installed inside the package beside the
shim, so it can be bind-mounted into an otherwise empty sandbox rootfs."""
from __future__ import annotations

import os

from minictr.pods.errors import PodError

PAUSE_NAME = "minictr-pause"


def pause_path() -> str:
    """The installed pause binary; a clear error if the build left none."""
    import minictr._native  # the package only: its cffi module is not needed to find a file
    path = os.path.join(os.path.dirname(minictr._native.__file__), "bin", PAUSE_NAME)
    if not os.access(path, os.X_OK):
        raise PodError(f"{path}: the pause program is missing; reinstall minictr (pip install builds cshim/pause.c)")
    return path
