"""A step that mostly waits in the kernel, run beside the others: the
engine mounts a container's rootfs while it writes the network files, and
detaches it (an RCU grace period, ~2-3 ms here, however little it
unmounts) while the runtime deletes the container. A bare _thread, not
threading (its import costs ~1 ms of every start)."""
from __future__ import annotations

import _thread


class Background:
    """fn(*args) on a thread of its own; join() waits for it and raises
    what it raised. Join before anything forks."""

    def __init__(self, fn, *args):
        self._done = _thread.allocate_lock()
        self._done.acquire()
        self._error: BaseException | None = None

        def run() -> None:
            try:
                fn(*args)
            except BaseException as e:
                self._error = e
            finally:
                self._done.release()
        _thread.start_new_thread(run, ())

    def join(self) -> None:
        with self._done:
            pass
        if self._error is not None:
            raise self._error
