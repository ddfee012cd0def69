"""Showing image progress events the way docker does: on a terminal one
line per layer, redrawn in place with a 50-column bar; otherwise one plain
line per status change, which logs and CI output can read."""
from __future__ import annotations

import threading

from minictr.cli import render
from minictr.image.progress import Progress

_BAR = 50


def progress_for(ctx, quiet: bool = False) -> Progress:
    if quiet:
        return Progress()
    return TerminalProgress(ctx.stdout) if ctx.stdout_is_tty else LineProgress(ctx.stdout)


def bar(current: int, total: int) -> str:
    if not total:
        return ""
    filled = min(_BAR, int(_BAR * current / total))
    arrow = ">" if filled < _BAR else ""
    return (f"[{'=' * max(0, filled - (1 if arrow else 0))}{arrow}{' ' * (_BAR - filled)}] "
            f"{render.human_size(current)}/{render.human_size(total)}")


class LineProgress(Progress):
    def __init__(self, stream):
        self.stream, self.lock, self.last = stream, threading.Lock(), {}

    def layer(self, layer_id, status, current=None, total=None):
        with self.lock:
            if self.last.get(layer_id) == status:
                return
            self.last[layer_id] = status
            self.stream.write(f"{layer_id}: {status}\n")
            self.stream.flush()

    def message(self, text):
        with self.lock:
            self.stream.write(text + "\n")
            self.stream.flush()


class TerminalProgress(Progress):
    def __init__(self, stream):
        self.stream, self.lock = stream, threading.Lock()
        self.order: list[str] = []
        self.lines: dict[str, str] = {}

    def layer(self, layer_id, status, current=None, total=None):
        with self.lock:
            text = f"{layer_id}: {status}"
            if current is not None and total:
                text += " " + bar(current, total)
            if layer_id not in self.lines:
                self.order.append(layer_id)
                self.lines[layer_id] = text
                self.stream.write(text + "\n")
            else:
                self.lines[layer_id] = text
                up = len(self.order) - self.order.index(layer_id)
                self.stream.write(f"\x1b[{up}A\x1b[2K\r{text}\x1b[{up}B\r")
            self.stream.flush()

    def message(self, text):
        with self.lock:
            self.stream.write(text + "\n")
            self.stream.flush()
