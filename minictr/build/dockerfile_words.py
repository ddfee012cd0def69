"""The words of one Dockerfile instruction line, as BuildKit splits them:
the leading --flags (checked against what each instruction accepts), the
exec form's JSON array, the heredoc markers. dockerfile.py builds the
Instruction from these."""
from __future__ import annotations

import difflib
import json
import re

from minictr.build.expand import GO_SPACE, LexError, lex

# flags each instruction accepts (BuildKit's BFlags): s = string, b = bool, m = repeatable
FLAGS = {
    "FROM": {"platform": "s"},
    "RUN": {"mount": "m", "network": "s", "security": "s"},
    "COPY": {"from": "s", "chown": "s", "chmod": "s", "link": "b", "parents": "b", "exclude": "m"},
    "ADD": {"chown": "s", "chmod": "s", "link": "b", "keep-git-dir": "b", "checksum": "s", "exclude": "m",
            "unpack": "b"},
    "HEALTHCHECK": {"interval": "s", "timeout": "s", "start-period": "s", "start-interval": "s", "retries": "s"},
}
HEREDOC = re.compile(r"([0-9]*)<<(-?)([^<]*)")
_NOT_JSON = object()                                  # NaN, Infinity: not JSON to Go
_DECODER = json.JSONDecoder(parse_constant=lambda name: _NOT_JSON)


def extract_flags(line: str) -> tuple[str, list[str]]:
    """The leading --flags (quotes and backslashes removed) and the rest, as
    BuildKit's extractBuilderFlags splits them."""
    words, word, quote, blank_ok, i, n = [], "", "", False, 0, len(line)
    while i < n:
        ch = line[i]
        if not quote and not word and not blank_ok:
            if ch in GO_SPACE:
                i += 1
                continue
            if not line.startswith("--", i):
                return line[i:], words
        if not quote and ch in GO_SPACE:
            if word == "--":
                return line[i:], words
            words.append(word)
            word, blank_ok, i = "", False, i + 1
            continue
        if ch == quote:
            quote, i = "", i + 1
            continue
        if not quote and ch in "'\"":
            quote, blank_ok, i = ch, True, i + 1
            continue
        if ch == "\\":
            if i + 1 == n:
                break
            i += 1
            ch = line[i]
        word += ch
        i += 1
    if word != "--" and (blank_ok or word):
        words.append(word)
    return "", words


def flags(keyword: str, words: list[str], error) -> tuple:
    known, out, seen = FLAGS.get(keyword, {}), [], set()
    for word in words:
        name, eq, value = word[2:].partition("=")
        kind = known.get(name)
        if kind is None:
            hint = difflib.get_close_matches(name, list(known), 1)
            raise error(f"unknown flag: {shown(name)}" + (f" (did you mean {hint[0]}?)" if hint else ""))
        if name in seen and kind != "m":
            raise error(f"duplicate flag specified: {name}")
        seen.add(name)
        if (kind != "b" and not eq) or (kind == "b" and eq and not value):
            raise error(f"missing a value on flag: {name}")
        if kind == "b" and value.lower() not in ("", "true", "false"):
            raise error(f"expecting boolean value for flag {name}, not: {shown(value)}")
        out.append((name, value))
    return tuple(out)


def json_array(rest: str, error) -> tuple | None:
    """The exec form's strings, or None for the shell form. A JSON array that
    holds a non-string is an error (as docker); one cut off inside a string or
    before its `]` is an error here too (docker would run it as shell text)."""
    rest = rest.lstrip(GO_SPACE)
    if not rest.startswith("["):
        return None
    try:
        value, _ = _DECODER.raw_decode(rest)     # what follows the array is ignored, as docker does
    except json.JSONDecodeError as e:
        if e.msg.startswith("Unterminated string") or e.pos >= len(rest.rstrip(GO_SPACE)):
            raise error("unterminated JSON array (exec form): " + shown(rest)) from None
        return None
    except RecursionError:
        value = [None]
    if any(v is _NOT_JSON for v in value):
        return None
    if not all(isinstance(v, str) for v in value):
        raise error("when using JSON array syntax, arrays must be comprised of strings only")
    return tuple(value)


def heredocs(line: str, error) -> list[tuple[str, bool, bool]]:
    """(name, expand, chomp) for each <<WORD in the line, as BuildKit finds them."""
    try:
        words = lex(line, {}, "\\", raw_quotes=True, raw_escapes=True, skip_unset=True)[1]
    except LexError:
        return []
    found = []
    for word in words:
        m = HEREDOC.fullmatch(word)
        if not m or not m.group(3):
            continue
        try:
            plain = lex(m.group(3), {}, "\\", skip_unset=True)[1]
            raw = lex(m.group(3), {}, "\\", raw_quotes=True, skip_unset=True)[1]
        except LexError as e:
            raise error(str(e)) from None
        if len(plain) == 1 and len(raw) == 1:
            quotes = sum(map(raw[0].count, "'\"")) - sum(map(plain[0].count, "'\""))
            found.append((plain[0], quotes == 0, m.group(2) == "-"))
    return found


def shown(text: str, limit: int = 60) -> str:
    """Text for a one-line message: short, control characters escaped."""
    text = text if len(text) <= limit else text[:limit] + "..."
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
