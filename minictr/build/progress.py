"""A build's progress as BuildKit's plain output has it:

    #3 [2/4] RUN echo hi
    #3 0.213 hi
    #3 DONE 0.3s
    #4 [3/4] COPY app /app
    #4 CACHED

Each step is a Vertex (`begin` returns it) that says its own output and
end, so stages building at once interleave their lines as BuildKit's do,
each line naming its step. `quiet` prints nothing (the CLI prints the
image ID at the end). build/progress_tty.py is the terminal's display,
build/progress_mode.py picks one."""
from __future__ import annotations

import sys
import threading
import time


class Progress:
    def __init__(self, out=None, quiet: bool = False):
        self.out = out or sys.stderr
        self.quiet = quiet
        self.n = 0
        self._lock = threading.Lock()

    def _write(self, text: str) -> None:
        if not self.quiet:
            with self._lock:
                self.out.write(text)
                self.out.flush()

    def begin(self, title: str) -> "Vertex":
        with self._lock:
            self.n += 1
            n = self.n
        vertex = Vertex(self, n)
        self._write(f"#{n} {title}\n")
        return vertex

    def note(self, text: str) -> None:
        """A line about the whole build (a warning), after the last step's."""
        self._write(f"#{self.n} {text}\n")

    def close(self) -> None:
        """The build is over (each line is out already; a tty display's is not)."""


class Vertex:
    """One step's lines: its output, then CACHED, DONE or ERROR."""

    def __init__(self, progress: Progress, n: int):
        self.progress, self.n = progress, n
        self._started = time.monotonic()
        self._at_line_start = True

    def output(self, text: str) -> None:
        """A RUN step's output, line by line, with the time since the step began."""
        for line in text.splitlines(keepends=True):
            stamp = f"#{self.n} {time.monotonic() - self._started:.3f} " if self._at_line_start else ""
            self.progress._write(stamp + line)
            self._at_line_start = line.endswith("\n")

    def _end_output(self) -> None:
        if not self._at_line_start:
            self.progress._write("\n")
            self._at_line_start = True

    def cached(self) -> None:
        self._end_output()
        self.progress._write(f"#{self.n} CACHED\n")

    def done(self) -> None:
        self._end_output()
        self.progress._write(f"#{self.n} DONE {time.monotonic() - self._started:.1f}s\n")

    def error(self, message: str) -> None:
        self._end_output()
        self.progress._write(f"#{self.n} ERROR: {message}\n")

    def note(self, text: str) -> None:
        self._end_output()
        self.progress._write(f"#{self.n} {text}\n")
