"""A build's progress as BuildKit's tty display has it, for a terminal:

    [+] Building 1.2s (3/4)
     => [1/3] FROM busybox                                          0.0s
     => CACHED [2/3] COPY app /app                                  0.0s
     => [3/3] RUN make                                              0.9s
     => => # cc -c main.c

redrawn in place (the cursor moved back up over the last frame) ten
times a second at most, from a thread, while a step runs; a running
step's last lines of output under it; at the end the whole list once
more, the header saying FINISHED, then each failed step's output
between `------` lines, as BuildKit prints them before the error. The
same begin()/Vertex interface as build.progress.Progress."""
from __future__ import annotations

import collections
import os
import threading
import time

INTERVAL = 0.1          # seconds between frames at most (BuildKit's tty: ~10 a second)
LOG_LINES = 6           # a running step's output lines shown under it (BuildKit's termHeightInitial)
LOG_PAD = 10            # those lines are this much narrower than the terminal
KEPT_LOG_LINES = 5000   # a step's output kept to print if it fails
_BLUE, _RED, _FAINT, _RESET = "\x1b[34m", "\x1b[31m", "\x1b[2m", "\x1b[0m"
_HIDE, _SHOW = "\x1b[?25l", "\x1b[?25h"


class TtyProgress:
    def __init__(self, out, size=None, color: bool | None = None):
        """`size()`: the terminal's (columns, lines); `color`: None for
        unless NO_COLOR is set, as BuildKit."""
        self.out = out
        self._size = size or (lambda: _terminal_size(out))
        self.color = not os.environ.get("NO_COLOR") if color is None else color
        self._lock = threading.Lock()
        self._vertices: list[TtyVertex] = []
        self._notes: list[str] = []
        self._started = time.monotonic()
        self._lines = 0          # lines of the frame on screen, the header's included
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    def begin(self, title: str) -> "TtyVertex":
        vertex = TtyVertex(self, title)
        with self._lock:
            self._vertices.append(vertex)
            if self._thread is None:
                self._thread = threading.Thread(target=self._refresh, name="build-progress", daemon=True)
                self._thread.start()
        return vertex

    def note(self, text: str) -> None:
        """A line about the whole build (a warning): printed after the display."""
        with self._lock:
            self._notes.append(text)

    def close(self) -> None:
        """The last frame (every step, FINISHED), failed steps' output, notes."""
        self._closed.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            if self._vertices:
                self._paint(final=True)
            tail = [line for v in self._vertices if v.failure is not None for line in v.error_log()]
            tail += self._notes
            self._notes = []
            if tail:
                self.out.write("".join(line + "\n" for line in tail))
                self.out.flush()

    def _refresh(self) -> None:
        """Repaints until close(): the header's clock moves even when no step says anything."""
        while not self._closed.wait(INTERVAL):
            with self._lock:
                self._paint(final=False)

    def _paint(self, final: bool) -> None:
        width, height = self._size()
        lines = frame(self._vertices, time.monotonic() - self._started, width, height, final, self.color)
        moves = f"\x1b[{self._lines}A\r" if self._lines else ""
        blank = max(0, self._lines - len(lines))
        clear = (" " * (width - 1) + "\n") * blank + (f"\x1b[{blank}A" if blank else "")
        self.out.write(_HIDE + moves + "".join(line + "\n" for line in lines) + clear + _SHOW)
        self.out.flush()
        self._lines = len(lines)


class TtyVertex:
    """One step: its line, the output it makes, how it ended."""

    def __init__(self, progress: TtyProgress, title: str):
        self.progress, self.title = progress, title
        self.started, self.ended = time.monotonic(), None
        self.is_cached = False
        self.failure: str | None = None
        self.log: collections.deque = collections.deque(maxlen=KEPT_LOG_LINES)   # (seconds in, line)
        self.partial = ""
        self.notes: list[tuple[str, float]] = []   # BuildKit's statuses: "writing image ..." and when

    def output(self, text: str) -> None:
        with self.progress._lock:
            lines = (self.partial + text).split("\n")
            self.partial = lines.pop()
            at = time.monotonic() - self.started
            self.log.extend((at, line) for line in lines)

    def _end(self, failure: str | None = None) -> None:
        with self.progress._lock:
            if self.partial:
                self.log.append((time.monotonic() - self.started, self.partial))
                self.partial = ""
            self.failure = failure
            if self.ended is None:
                self.ended = time.monotonic()

    def cached(self) -> None:
        self.is_cached = True
        self._end()

    def done(self) -> None:
        self._end()

    def error(self, message: str) -> None:
        self._end(message)

    def note(self, text: str) -> None:
        with self.progress._lock:
            # BuildKit's tty names a finished status and gives its time; plain says "done"
            self.notes.append((text[:-5] if text.endswith(" done") else text, time.monotonic()))

    def error_log(self) -> list[str]:
        """The failed step's output, as BuildKit prints it under the display."""
        return ["------", f" > {self.title}:"] + [f"{_seconds(at)} {line}" for at, line in self.log] + ["------"]


def frame(vertices: list[TtyVertex], elapsed: float, width: int, height: int, final: bool,
          color: bool = False) -> list[str]:
    """One frame's lines: the header, then each step (and its notes, and a
    running step's last output); all of them when final, else the last
    ones that fit the terminal's height."""
    done = sum(1 for v in vertices if v.ended is not None)
    status = " FINISHED" if final and vertices and done == len(vertices) else ""
    header = f"[+] Building {elapsed:.1f}s ({done}/{len(vertices)}){status}"
    rows: list[str] = []
    now = time.monotonic()
    room = height - 2 - (len(vertices) - done)   # BuildKit's: the lines left beside the running steps
    for v in vertices:
        name = ("ERROR " if v.failure is not None else "") + ("CACHED " if v.is_cached else "") + v.title
        rows.append(_paint(_job_line(name, (v.ended or now) - v.started, width), v.ended is not None,
                           v.failure is not None, color))
        for text, at in v.notes:
            rows.append(_paint(_job_line("=> " + text, 0.0, width), True, False, color))
        if v.ended is None and not final and room > LOG_LINES + 3:
            shown = [line for _, line in v.log] + ([v.partial] if v.partial else [])
            for line in [s.rsplit("\r", 1)[-1] for s in shown if s.strip()][-LOG_LINES:]:
                text = f" => => # {line[:max(1, width - LOG_PAD)]}".ljust(width - 1)   # over what was there
                rows.append(f"{_FAINT}{text}{_RESET}" if color else text)
    if not final and len(rows) > height - 2:
        rows = rows[len(rows) - max(0, height - 2):]
    return [header.ljust(width - 1)[:width - 1]] + rows


def _job_line(name: str, seconds: float, width: int) -> str:
    """` => name` and its time at the right edge (one column short of it,
    so a full line never makes the terminal wrap), as BuildKit aligns them."""
    timer = f" {0.0 if seconds < 0.05 else seconds:3.1f}s"
    left = max(1, width - 4 - len(timer) - 2)
    return f"{(' => ' + name[:left]):<{width - len(timer) - 2}} {timer}"


def _paint(line: str, completed: bool, failed: bool, color: bool) -> str:
    if not (color and completed):
        return line
    return f"{_RED if failed else _BLUE}{line}{_RESET}"


def _seconds(at: float) -> str:
    """BuildKit's log timestamps: fewer decimals as the step runs longer."""
    return f"{at:.3f}" if at < 10 else f"{at:.2f}" if at < 100 else f"{at:.1f}"


def _terminal_size(out) -> tuple[int, int]:
    """(columns, lines), BuildKit's 80x10 when the terminal does not say."""
    try:
        size = os.get_terminal_size(out.fileno())
    except (AttributeError, OSError, ValueError):
        return 80, 10
    return (size.columns or 80), (size.lines or 10)
