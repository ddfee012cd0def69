"""The Dockerfile's physical lines as BuildKit's parser reads them: a BOM
dropped, parser directives only at the very top (escape, syntax, check),
comment lines dropped even inside continuations, empty continuation lines
allowed (and noted), the 64 KiB line limit, heredoc bodies taken whole.
dockerfile.py makes instructions of the logical lines this gives."""
from __future__ import annotations

import re

from minictr.build.errors import DockerfileError
from minictr.build.expand import GO_SPACE

_DIRECTIVE = re.compile(r"#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\Z")
_MAX_LINE = 64 * 1024                                 # bufio.Scanner's token limit, newline included


class Reader:
    """Physical lines, each with its newline, numbered from `first`; the
    directive state; the escape character and the continuation rule it sets."""

    def __init__(self, text: str, path: str, first: int = 1):
        if text.startswith("\ufeff"):
            text = text[1:]
        self.lines = text.split("\n")
        self.final_newline = self.lines[-1] == ""
        if self.final_newline:
            self.lines.pop()
        self.path, self.first, self.i = path, first, 0
        self.directives: dict = {}
        self.directives_done = False
        self.set_escape("\\")

    def set_escape(self, escape: str) -> None:
        e = re.escape(escape)
        self.escape = escape
        self.continuation = re.compile(rf"([^{e}]){e}[ \t]*\Z|^{e}[ \t]*\Z")

    @property
    def line(self) -> int:
        return self.first + self.i - 1

    def error(self, line: int, message: str) -> DockerfileError:
        return DockerfileError(self.path, line, message)

    def take(self) -> str | None:
        if self.i >= len(self.lines):
            return None
        raw = self.lines[self.i] + ("\n" if self.i + 1 < len(self.lines) or self.final_newline else "")
        self.i += 1
        if len(raw) * 4 > _MAX_LINE and len(raw.encode("utf-8", "surrogatepass")) > _MAX_LINE:
            raise self.error(self.line, f"dockerfile line greater than max allowed size of {_MAX_LINE - 1}")
        return raw

    def directive(self, token: str) -> None:
        if self.directives_done:
            return
        m = _DIRECTIVE.match(token)
        name = m.group(1).lower() if m else ""
        if name not in ("escape", "syntax", "check"):
            self.directives_done = True
            return
        if name in self.directives:
            raise self.error(self.line, f"only one {name} parser directive can be used")
        if name == "escape":
            if m.group(2) not in ("\\", "`"):
                raise self.error(self.line, f"invalid escape token '{m.group(2)}' does not match ` or \\")
            self.set_escape(m.group(2))
        self.directives[name] = m.group(2)

    def trim(self, line: str) -> tuple[str, bool]:
        """The line without its continuation character; True when it ends there."""
        m = self.continuation.search(line)
        return (line, True) if m is None else (line[:m.start()] + (m.group(1) or ""), False)

    def logical(self):
        """The next instruction's joined line: (line, start, had an empty continuation)."""
        while (raw := self.take()) is not None:
            token = raw.rstrip("\r\n").lstrip(GO_SPACE)
            self.directive(token)
            line, done = self.trim("" if token.startswith("#") else token)
            if done and not line:
                continue
            start, parts, empty = self.line, [line], False
            while not done and (raw := self.take()) is not None:
                text = raw.rstrip("\r\n")
                if raw.lstrip(GO_SPACE).startswith("#"):
                    continue
                if not text.strip(GO_SPACE):
                    empty = True
                    continue
                text, done = self.trim(text)
                parts.append(text)
            return "".join(parts), start, empty
        return None

    def heredoc_body(self, name: str, chomp: bool, start: int) -> str:
        body = []
        while (raw := self.take()) is not None:
            candidate = raw.rstrip("\r\n")
            if (candidate.lstrip("\t") if chomp else candidate) == name:
                return "".join(body)
            body.append(raw)
        raise self.error(start, "unterminated heredoc")
