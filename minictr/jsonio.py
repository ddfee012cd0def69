"""JSON on the container-start path without importing the json package.

`import json` costs ~5 ms (json.decoder and json.scanner import re, which
imports enum); the runtime reads config.json and writes state.json on
every start. The C accelerator `_json` that json itself uses does the real
work here; the json package is imported only for what it alone does
(indented output) or to describe a syntax error.
"""
from __future__ import annotations

import _json


class JSONError(ValueError):
    """Not valid JSON; `line`/`column` say where."""

    def __init__(self, msg: str, line: int, column: int):
        super().__init__(f"{msg} at line {line} column {column}")
        self.msg, self.line, self.column = msg, line, column


class _DecodeContext:
    """The attributes _json's scanner reads from its context (json.JSONDecoder's)."""
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__
    memo: dict = {}


_scan = _json.make_scanner(_DecodeContext())
_WHITESPACE = " \t\n\r"
_encode = _json.make_encoder(None, None, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True)


def loads(text: str | bytes):
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        obj, end = _scan(text, start)
    except StopIteration as e:
        raise _error("Expecting value", text, e.value) from None
    except ValueError as e:  # json.JSONDecodeError, raised by _json itself
        raise _error(getattr(e, "msg", str(e)), text, getattr(e, "pos", start)) from None
    except SystemError:
        # some errors (a bad object key) reach _json's error path without the
        # context json's own decoder gives it: let json describe the error
        import json
        try:
            json.loads(text)
        except json.JSONDecodeError as e:
            raise _error(e.msg, text, e.pos) from None
        raise
    rest = len(text) - len(text[end:].lstrip(_WHITESPACE))
    if rest != len(text):
        raise _error("Extra data", text, rest)
    return obj


def _error(msg: str, text: str, pos: int) -> JSONError:
    line = text.count("\n", 0, pos) + 1
    column = pos - text.rfind("\n", 0, pos)
    return JSONError(msg, line, column)


def dumps(obj, indent: int | str | None = None) -> str:
    """Compact (`, ` and `: ` separators, as json.dumps) unless indent is asked."""
    if indent is not None:
        import json
        return json.dumps(obj, indent=indent)
    return "".join(_encode(obj, 0))


def load_file(path: str):
    with open(path, "rb") as f:
        return loads(f.read())
