""".dockerignore: which context files a build never sees. The rules are
moby/patternmatcher's (and its ignorefile reader's), applied the way
BuildKit's context walker applies them: a path is matched against each
pattern, a pattern that matched a parent directory keeps matching below
it, the last pattern that matches decides, `!` patterns re-include."""
from __future__ import annotations

import os
import posixpath
import re
import warnings

from minictr.build.errors import BuildError, DockerfileError

_SPACE = "\t\n\v\f\r \x85\xa0"


def go_clean(path: str) -> str:
    """Go's filepath.Clean (normpath, but "//x" is "/x" too)."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def _valid(pattern: str) -> bool:
    """Whether Go's filepath.Match accepts the pattern's syntax."""
    i, n = 0, len(pattern)

    def esc(i: int) -> int:          # one class character (or -1: bad)
        if i >= n or pattern[i] in "-]":
            return -1
        i += 2 if pattern[i] == "\\" else 1
        return i if i < n else -1      # Go wants the class to go on

    while i < n:
        if pattern[i] == "\\":
            if i + 1 >= n:
                return False
            i += 2
        elif pattern[i] == "[":
            i += 1 + (pattern[i + 1:i + 2] == "^")
            ranges = 0
            while not (i < n and pattern[i] == "]" and ranges):
                i = esc(i)
                if i < 0:
                    return False
                if pattern[i] == "-" and (i := esc(i + 1)) < 0:
                    return False
                ranges += 1
            i += 1
        else:
            i += 1
    return True


class _Pattern:
    """One cleaned pattern and how it matches (patternmatcher's compile)."""

    def __init__(self, text: str, exclusion: bool):
        self.text, self.exclusion = text, exclusion
        self.dirs = text.split("/")
        regex, kind, i, n = "^", "exact", 0, len(text)
        first = True
        while i < n:
            ch, i = text[i], i + 1
            if ch == "*" and text[i:i + 1] == "*":
                i += 1 + (text[i + 1:i + 2] == "/")
                if i >= n:
                    regex, kind = (regex, "prefix") if kind == "exact" else (regex + ".*", "regex")
                else:
                    regex, kind = regex + "(.*/)?", "regex"
                kind = "suffix" if first else kind
            elif ch == "*":
                regex, kind = regex + "[^/]*", "regex"
            elif ch == "?":
                regex, kind = regex + "[^/]", "regex"
            elif ch in ".+()|{}$":
                regex += "\\" + ch
            elif ch == "\\":
                if i < n:
                    regex, kind, i = regex + "\\" + text[i], "regex", i + 1
                else:
                    regex += "\\\\"
            elif ch in "[]":
                regex, kind = regex + ch, "regex"
            else:
                regex += ch                              # raw, as Go writes it (a ^ anchors)
            first = False
        self.kind, self.regex = kind, None
        if kind == "regex":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")          # Python's "possible nested set" notes
                self.regex = re.compile(regex + r"\Z")

    def match(self, path: str) -> bool:
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix[:1] == "/" and path == suffix[1:])
        return self.regex.match(path) is not None


def _compile(line: str) -> "_Pattern | None":
    """One ignore-file line as a pattern (None: a blank line); a ValueError
    says what is wrong with it."""
    if not line.strip(_SPACE):
        return None
    pattern = line.strip(_SPACE)
    invert = pattern.startswith("!")
    if invert:
        pattern = pattern[1:].strip(_SPACE)
    if pattern:
        pattern = go_clean(pattern)
        pattern = pattern[1:] if len(pattern) > 1 and pattern[0] == "/" else pattern
    pattern = go_clean(("!" if invert else "") + pattern)   # patternmatcher.New cleans again
    if pattern == "!":
        raise ValueError('illegal exclusion pattern: "!"')
    pattern = pattern[1:] if invert else pattern
    if not _valid(pattern):
        raise ValueError(f"syntax error in pattern: {pattern}")
    try:
        return _Pattern(pattern, invert)
    except re.error as e:
        raise ValueError(f"bad pattern {pattern!r}: {e}") from None


class IgnoreRules:
    """The patterns of one ignore file, in order."""

    def __init__(self, patterns: list[_Pattern] = (), path: str = ".dockerignore"):
        self.patterns, self.path = list(patterns), path
        self._seen: dict[str, tuple[bool, tuple]] = {}   # dir -> (ignored, per-pattern match)

    @classmethod
    def parse(cls, text: str, path: str = ".dockerignore") -> "IgnoreRules":
        """Comments (# in column 1), blank lines, surrounding space, a
        leading / and ./ and .. (filepath.Clean), ! exceptions."""
        patterns = []
        for number, line in enumerate(text.split("\n"), start=1):
            line = line.removesuffix("\r")
            if number == 1:
                line = line.removeprefix("\ufeff")
            if line.startswith("#"):
                continue
            try:
                pattern = _compile(line)
            except ValueError as e:
                raise DockerfileError(path, number, str(e)) from None
            if pattern is not None:
                patterns.append(pattern)
        return cls(patterns, path)

    @classmethod
    def of_patterns(cls, texts: list[str], flag: str = "--exclude") -> "IgnoreRules":
        """COPY/ADD --exclude: each value a pattern as an ignore file's line
        would be (a `#` is no comment here); a bad one names the flag."""
        patterns = []
        for text in texts:
            try:
                pattern = _compile(text)
            except ValueError as e:
                raise BuildError(f"{flag}={text}: {e}") from None
            if pattern is None:
                raise BuildError(f"{flag}: an empty pattern")
            patterns.append(pattern)
        return cls(patterns, flag)

    def _state(self, relpath: str) -> tuple[bool, tuple]:
        """(ignored, which patterns match) for a path, from its parent's state."""
        parts = relpath.split("/")
        state, parent = None, None
        for depth in range(1, len(parts) + 1):
            path = "/".join(parts[:depth])
            cached = self._seen.get(path)
            if cached is None:
                cached = self._evaluate(path, parent)
                if depth < len(parts):
                    self._seen[path] = cached
            state, parent = cached, cached[1]
        return state

    def _evaluate(self, path: str, parent: tuple | None) -> tuple[bool, tuple]:
        matched, info = False, []
        for k, pattern in enumerate(self.patterns):
            match = bool(parent and parent[k])
            if not match:
                if pattern.exclusion != matched:
                    info.append(False)
                    continue
                match = pattern.match(path)
            info.append(match)
            if match:
                matched = not pattern.exclusion
        return matched, tuple(info)

    def ignored(self, relpath: str) -> bool:
        """Whether a context path ("a/b", "/" separators, no "./") is left out."""
        relpath = relpath.strip("/")
        if not self.patterns or relpath in ("", "."):
            return False
        return self._state(relpath)[0]

    def may_contain_kept(self, reldir: str) -> bool:
        """False when nothing below this directory can be in the context: it
        is ignored and no ! pattern can match a path beneath it."""
        reldir = reldir.strip("/")
        if not self.ignored(reldir):
            return True
        dirs = reldir.split("/")
        for p in self.patterns:
            if not p.exclusion:
                continue
            if "**" in p.text:
                return True
            if len(p.dirs) > len(dirs) and all(_component(pd, d) for pd, d in zip(p.dirs, dirs)):
                return True
        return False

    def __repr__(self) -> str:
        shown = [("!" if p.exclusion else "") + p.text for p in self.patterns]
        return f"IgnoreRules({self.path!r}, {shown!r})"


def _component(pattern: str, name: str) -> bool:
    """Whether one pattern component may match one path component."""
    try:
        return _Pattern(pattern, False).match(name)
    except re.error:                 # a class cut at a "/": assume it may
        return True


def rules_for(context_dir: str, dockerfile_relpath: str | None) -> IgnoreRules:
    """The build's ignore rules: `<Dockerfile>.dockerignore` beside the
    Dockerfile (a path relative to the context, or absolute when the
    Dockerfile lives elsewhere) wins over the context's `.dockerignore`;
    neither: nothing is ignored."""
    names = [dockerfile_relpath + ".dockerignore"] if dockerfile_relpath else []
    for name in names + [".dockerignore"]:
        path = os.path.join(context_dir, name)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as e:
            raise BuildError(f"failed to read {name}: {e.strerror}") from None
        return IgnoreRules.parse(data.decode("utf-8", "surrogateescape"), name)
    return IgnoreRules()
