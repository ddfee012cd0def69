"""Variable substitution in Dockerfile words, as BuildKit's shell lexer
(frontend/dockerfile/shell/lex.go) does it: `$VAR`, `${VAR}`, the `:-` `-`
`:+` `+` `:?` `?` modifiers, `#`/`%` prefix and suffix trimming, `/`
replacement, quotes removed, the escape character honoured. The builder
expands the instructions docker expands (ENV, LABEL, ARG, ADD, COPY, WORKDIR,
USER, EXPOSE, VOLUME, STOPSIGNAL, FROM with the meta ARGs), never RUN/CMD/
ENTRYPOINT, whose text the shell sees as written."""
from __future__ import annotations

import json
import re

from minictr.build.errors import DockerfileError

# Go's unicode.IsSpace, which the lexer and the parser split on (Python's
# str.isspace also counts the \x1c-\x1f separators, docker does not)
GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + \
    "\u2028\u2029\u202f\u205f\u3000"
_SPACE = re.compile(f"[{GO_SPACE}]")
_NAME = re.compile(r"\d+|[@*#?\-$!0]|\w*")     # digits, one special parameter, or a name
_EOF = ""


class LexError(ValueError):
    """A word the lexer cannot read (an open quote, a bad ${...})."""


class _Words:
    """ProcessWords' splitting: unquoted spaces split, quoted text never;
    an empty quoted word ("") is dropped, as docker drops it."""

    def __init__(self):
        self.parts, self.size, self.words, self.in_word = [], 0, [], False

    def char(self, ch: str) -> None:
        if ch not in GO_SPACE:
            self.raw(ch)
        elif self.in_word and self.size:
            self.done()

    def raw(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        self.in_word = True

    def done(self) -> list[str]:
        if self.size:
            self.words.append("".join(self.parts))
            self.parts, self.size, self.in_word = [], 0, False
        return self.words


class _Lex:
    def __init__(self, text, env, escape, raw_quotes=False, raw_escapes=False, skip_unset=False):
        self.s, self.i, self.env, self.escape = text, 0, env, escape
        self.raw_quotes, self.raw_escapes, self.skip_unset = raw_quotes, raw_escapes, skip_unset

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else _EOF

    def next(self) -> str:
        ch = self.peek()
        self.i += bool(ch)
        return ch

    def getenv(self, name: str) -> tuple[str, bool]:
        value = self.env.get(name)           # None: unset (an ARG without a value)
        return ("" if value is None else value), value is not None

    def stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        """Read to `stop` (or the end): the text, and its words."""
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            result, words = [], _Words()
            while (ch := self.peek()) != _EOF:
                if stop and ch == stop:
                    self.next()
                    return "".join(result), words.done()
                if ch in "$'\"":
                    text = self.dollar() if ch == "$" else self.quoted()
                    result.append(text)
                    if ch == "$" and _SPACE.search(text):
                        for c in text:            # an expansion's spaces split words
                            words.char(c)
                    elif text or ch != "$":
                        words.raw(text)
                    continue
                ch = self.next()
                if ch == self.escape:
                    if self.raw_escapes:
                        words.raw(ch)
                        result.append(ch)
                    if (ch := self.next()) == _EOF:
                        break
                    words.raw(ch)
                else:
                    words.char(ch)
                result.append(ch)
            if stop:
                raise LexError(f"unexpected end of statement while looking for matching {stop}")
            return "".join(result), words.done()
        finally:
            self.raw_escapes = saved

    def quoted(self) -> str:
        """'...' as is; "..." with $ expanded and \\" \\$ \\\\ escapes."""
        quote = self.next()
        out = [quote] if self.raw_quotes else []
        what = "single-quote" if quote == "'" else "double-quote"
        while True:
            ch = self.peek()
            if ch == _EOF:
                raise LexError(f"unexpected end of statement while looking for matching {what}")
            if ch == quote:
                self.next()
                return "".join(out + ([ch] if self.raw_quotes else []))
            if quote == '"' and ch == "$":
                out.append(self.dollar())
                continue
            ch = self.next()
            if quote == '"' and ch == self.escape:
                if self.raw_escapes:
                    out.append(ch)
                if self.peek() == _EOF:
                    continue
                if self.peek() in ('"', "$", self.escape):
                    ch = self.next()
            out.append(ch)

    def name(self) -> str:
        m = _NAME.match(self.s, self.i)
        self.i = m.end()
        return m.group()

    def dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value, found = self.getenv(name)
            return "$" + name if not found and self.skip_unset else value
        self.next()
        if self.peek() == _EOF:
            raise LexError("syntax error: missing '}'")
        if self.peek() in "{}:":
            raise LexError("syntax error: bad substitution")
        name = self.name()
        ch = mods = self.next()
        if ch == _EOF:
            raise LexError("syntax error: missing '}'")
        if ch == "}":
            value, found = self.getenv(name)
            return "${%s}" % name if not found and self.skip_unset else value
        if ch == "/":
            return self.replace(name)
        if ch == ":":
            ch = self.next()
            mods += ch
        elif ch not in "+-?#%":
            raise LexError(f"unsupported modifier ({mods}) in substitution")
        word = self.closing("}", ch in "#%")
        value, found = self.getenv(name)
        if self.skip_unset and not found:
            return "${%s%s%s}" % (name, mods, word)
        unset = not found or (mods[0] == ":" and value == "")
        if ch == "-":
            return word if unset else value
        if ch == "+":
            return "" if unset else word
        if ch == "?":
            if unset:
                raise LexError(f"{name}: " + (word or "is not allowed to be " + ("empty" if found else "unset")))
            return value
        if ch in "#%":
            greedy = word[:1] == ch
            word = word[1:] if greedy else word
            if ch == "#":
                return _trim_prefix(word, value, greedy)
            return _trim_prefix(_reverse_pattern(word), value[::-1], greedy)[::-1]
        raise LexError(f"unsupported modifier ({mods}) in substitution")

    def closing(self, stop: str, raw: bool, missing: str = "'}'") -> str:
        try:
            return self.stop_on(stop, raw)[0]
        except LexError:
            if self.peek() == _EOF:
                raise LexError(f"syntax error: missing {missing}") from None
            raise

    def replace(self, name: str) -> str:
        every = self.peek() == "/"
        self.i += every
        pattern = self.closing("/", True, "'/' in ${}")
        replacement = self.closing("}", True)
        value, found = self.getenv(name)
        if self.skip_unset and not found:
            return "${%s/%s/%s}" % (name, pattern, replacement)
        regex = _shell_pattern(pattern, greedy=True, anchored=False)
        return regex.sub(lambda m: replacement, value, count=0 if every else 1)


def _shell_pattern(pattern: str, greedy: bool, anchored: bool) -> re.Pattern:
    """A ${VAR#pattern} pattern as a regex: ? one char, * any run."""
    out, i = ["^"] if anchored else [], 0
    while i < len(pattern):
        ch, i = pattern[i], i + 1
        if ch == "\\" and pattern[i:i + 1] in ("}", "/"):
            continue                       # escaped only to get past the ${} parser
        if ch == "\\":
            nxt, i = pattern[i:i + 1], i + 1
            if nxt not in ("*", "?", "\\"):
                raise LexError(f"invalid pattern ({pattern}) in substitution: invalid escape '\\{nxt}'")
            out.append("\\" + nxt)
        else:
            out.append({"*": ".*" if greedy else ".*?", "?": "."}.get(ch) or re.escape(ch))
    return re.compile("".join(out))


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    m = _shell_pattern(pattern, greedy, anchored=True).search(value)
    return value[m.end():] if m else value


def _reverse_pattern(pattern: str) -> str:
    """The pattern backwards with each escape pair kept in order (a\\*c -> c\\*a)."""
    return "".join(reversed(re.findall(r"\\.|.", pattern, re.S)))


def lex(text: str, env, escape: str = "\\", **modes) -> tuple[str, list[str]]:
    """(ProcessWord's result, ProcessWords' words); raises LexError.
    `modes`: raw_quotes, raw_escapes, skip_unset (the parser's heredoc scan)."""
    try:
        return _Lex(text, env, escape, **modes).stop_on(_EOF, modes.get("raw_escapes", False))
    except RecursionError:
        raise LexError("substitutions nested too deeply") from None


def expand(word: str, env: dict, escape: str = "\\", path: str = "Dockerfile", line: int = 0) -> str:
    """One word expanded and unquoted, spaces kept (docker's ProcessWord)."""
    try:
        return lex(word, env, escape)[0]
    except LexError as e:
        raise DockerfileError(path, line, f"failed to process {_quoted(word)}: {e}") from None


def expand_words(text: str, env: dict, escape: str = "\\", path: str = "Dockerfile", line: int = 0) -> list[str]:
    """The text split on unquoted whitespace after substitution, each word
    unquoted (docker's ProcessWords)."""
    try:
        return lex(text, env, escape)[1]
    except LexError as e:
        raise DockerfileError(path, line, f"failed to process {_quoted(text)}: {e}") from None


def parse_words(rest: str, escape: str = "\\") -> list[str]:
    """The parser's word split for ENV/LABEL/ARG (parseWords): on unquoted
    whitespace, quotes and escapes kept for the lexer to process later."""
    words, word, quote, blank_ok, i, n = [], "", "", False, 0, len(rest)
    while i < n:
        ch = rest[i]
        if not quote and ch in GO_SPACE:
            if blank_ok or word:
                words.append(word)
            word, blank_ok = "", False
            while i < n and rest[i] in GO_SPACE:
                i += 1
            continue
        if ch == quote:
            quote = ""
        elif not quote and ch in "'\"":
            quote, blank_ok = ch, True
        if ch == escape and quote != "'":
            if i + 1 == n:
                break
            word, i = word + ch, i + 1
            ch = rest[i]
        word, i = word + ch, i + 1
    return words + [word] if blank_ok or word else words


def key_values(text: str, env: dict, keyword: str, escape: str = "\\", path: str = "Dockerfile",
               line: int = 0) -> list[tuple[str, str | None]]:
    """ENV/LABEL/ARG arguments as (key, value) pairs, both expanded, as
    docker's parseNameVal / parseNameOrNameVal and their Expand do. ENV and
    LABEL take `K=V ...` or the legacy `K value with spaces`; ARG takes
    `NAME` (value None: no default) or `NAME=default`."""
    kw, text = keyword.upper(), text.strip(GO_SPACE)
    words = parse_words(text, escape)

    def error(message):
        return DockerfileError(path, line, message)

    if not words:
        raise error(f"{kw} requires at least one argument")
    if kw == "ARG":
        pairs = [(k, v if eq else None) for k, eq, v in (w.partition("=") for w in words)]
    elif "=" not in words[0]:
        pairs = re.split(r"[\t\v\f\r ]+", text, maxsplit=1)
        if len(pairs) < 2:
            raise error(f"{kw} must have two arguments")
        pairs = [tuple(pairs)]
    else:
        bad = next((w for w in words if "=" not in w), None)
        if bad is not None:
            raise error(f"Syntax error - can't find = in {_quoted(bad)}. Must be of the form: name=value")
        pairs = [w.split("=", 1) for w in words]
    out = []
    for key, value in pairs:
        key = key and expand(key, env, escape, path, line)
        if not key:
            raise error(f"{kw} names can not be blank")
        out.append((key, None if value is None else expand(value, env, escape, path, line)))
    return out


class _EverySet(dict):
    """An environment in which every variable is set (to "x"): what a syntax
    check expands against, so only env-independent errors remain."""

    def get(self, name, default=None):
        return "x"


def check(text: str, escape: str, path: str, line: int, keyword: str = "") -> None:
    """Raise now what expansion would raise later whatever the variables
    (an open quote, an unterminated ${): the parser's early check."""
    if keyword:
        key_values(text, _EverySet(), keyword, escape, path, line)
    else:
        expand(text, _EverySet(), escape, path, line)


def _quoted(text: str) -> str:
    """Go's %q, near enough, and short: the words in messages."""
    shown = json.dumps(text if len(text) <= 200 else text[:200] + "...", ensure_ascii=False)
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in shown)
