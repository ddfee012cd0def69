"""The Dockerfile as data, the first step of a build: text in, stages of
instructions out, read as BuildKit's parser (frontend/dockerfile/parser,
instructions/parse.go) reads it wherever the difference would show:
directives only at the very top, comment lines dropped inside continuations,
empty continuation lines allowed (a warning), heredocs for RUN/COPY/ADD, the
exec form only for a JSON array of strings. Nothing is expanded here."""
from __future__ import annotations

import json
import re

from minictr.build import dockerfile_words as word_rules
from minictr.build.dockerfile_words import FLAGS, HEREDOC, shown  # noqa: F401 (FLAGS: part of this interface)
from minictr.build.dockerfile_lines import Reader
from minictr.build.expand import GO_SPACE, check
from minictr.records import dataclass

KEYWORDS = ("ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
            "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR")
_JSON_FORM = ("ADD", "CMD", "COPY", "ENTRYPOINT", "RUN", "SHELL", "VOLUME")
_SPLIT = re.compile(r"[\t\v\f\r ]+")                  # Go's reWhitespace: not \n, not unicode spaces
_STAGE_NAME = re.compile(r"[a-z][a-z0-9\-_.]*\Z")


@dataclass(frozen=True)
class Heredoc:
    name: str            # the delimiter word (EOF)
    content: str         # the body, with the final newline; tabs stripped for <<-
    expand: bool         # False when the delimiter was quoted ('EOF' or "EOF")
    chomp: bool          # <<- form


@dataclass(frozen=True)
class Instruction:
    keyword: str         # upper case
    flags: tuple         # ((name, value), ...) in order; value "" for a bare --flag
    args: str            # the rest after the flags, continuations joined, not expanded
    json_args: tuple | None   # the exec form's strings (HEALTHCHECK: those after CMD), else None
    heredocs: tuple      # Heredoc records, in order
    line: int            # 1-based line of the instruction's first line
    end_line: int        # its last line (heredoc terminators included)
    original: str        # the joined line as docker keeps it (Node.Original)


@dataclass(frozen=True)
class Stage:
    index: int
    name: str            # the AS name, lowercased, or ""
    base: str            # FROM's image argument, not expanded
    platform: str        # --platform value or ""
    from_line: int
    instructions: tuple


@dataclass(frozen=True)
class Dockerfile:
    path: str
    escape: str          # "\\" or "`"
    directives: dict     # lowercased name -> value: escape, syntax, check
    meta_args: tuple     # the ARG instructions before the first FROM
    stages: tuple
    warnings: tuple = ()  # "path:line: text" lines docker would print as warnings


def _node(line: str, error) -> tuple[str, str, list[str], str, tuple | None]:
    """(word, KEYWORD, flag words, args, exec-form strings) of a joined line,
    as BuildKit's splitCommand and its line parsers read it."""
    parts = _SPLIT.split(line.strip(GO_SPACE), 1)
    rest, flag_words = word_rules.extract_flags(parts[1] if len(parts) > 1 else "")
    keyword, args = parts[0].upper(), rest.strip(GO_SPACE)
    json_args = None
    if keyword in _JSON_FORM:
        json_args = word_rules.json_array(args, error)
    elif keyword == "HEALTHCHECK":
        json_args = word_rules.json_array(args[len(_SPLIT.split(args, 1)[0]):], error)
    return parts[0], keyword, flag_words, args, json_args


def _instruction(line: str, start: int, reader: Reader) -> Instruction:
    """One joined line (and the heredoc bodies after it) as an Instruction."""
    def error(message):
        return reader.error(start, message)

    word, keyword, flag_words, args, json_args = _node(line, error)
    if keyword not in KEYWORDS:
        import difflib   # a misspelt instruction only (~3 ms of every build's start)
        hint = difflib.get_close_matches(keyword, KEYWORDS, 1)
        raise error(f"unknown instruction: {shown(word)}" + (f" (did you mean {hint[0]}?)" if hint else ""))
    inner, inner_json = keyword, json_args
    if keyword == "ONBUILD" and args:
        _, inner, _, _, inner_json = _node(args, error)
    heredocs = []
    if inner in ("RUN", "COPY", "ADD") and inner_json is None and "<<" in line:
        for name, expand, chomp in word_rules.heredocs(line, error):
            body = reader.heredoc_body(name, chomp, start)
            heredocs.append(Heredoc(name, re.sub(r"(?m)^\t+", "", body) if chomp else body, expand, chomp))
    if keyword == "STOPSIGNAL" or (keyword == "HEALTHCHECK" and _SPLIT.split(args, 1)[0].upper() == "NONE"):
        # docker never checks these flags: kept as written
        flags = tuple((w[2:].partition("=")[0], w[2:].partition("=")[2]) for w in flag_words)
    else:
        flags = word_rules.flags(keyword, flag_words, error)
    ins = Instruction(keyword, flags, args, json_args, tuple(heredocs), start, reader.line, line)
    _check(ins, reader.escape, reader.path, error)
    return ins


_EXACTLY_ONE = ("MAINTAINER", "WORKDIR", "USER", "STOPSIGNAL")
_AT_LEAST_ONE = ("EXPOSE", "VOLUME", "ONBUILD", "HEALTHCHECK")


def _check(ins: Instruction, escape: str, path: str, error) -> None:
    """The argument rules of BuildKit's instructions/parse.go, and the lexer
    errors expansion would meet whatever the variables' values."""
    kw, args, line = ins.keyword, ins.args, ins.line
    exec_form = ins.json_args is not None and kw != "HEALTHCHECK"
    words = list(ins.json_args) if exec_form else split_args(args)
    if kw in _EXACTLY_ONE and not args:
        raise error(f"{kw} requires exactly one argument")
    if kw in _AT_LEAST_ONE and not words:
        raise error(f"{kw} requires at least one argument")
    if kw in ("ADD", "COPY") and len(words) < 2:
        raise error(f"{kw} requires at least two arguments, but only one was provided. "
                    "Destination could not be determined")
    if kw in ("ADD", "COPY") and (m := HEREDOC.fullmatch(words[-1])) and m.group(3):
        raise error(f"{kw} cannot accept a heredoc as a destination")
    if kw == "FROM" and not (len(words) == 1 or (len(words) == 3 and words[1].lower() == "as")):
        raise error("FROM requires either one or three arguments")
    if kw == "FROM" and len(words) == 3 and not _STAGE_NAME.match(words[2].lower()):
        raise error(f"invalid name for build stage: {shown(words[2])!r}, "
                    "name can't start with a number or contain symbols")
    if kw == "SHELL" and not ins.json_args:
        raise error("SHELL requires " + ("at least one argument" if exec_form else
                                         "the arguments to be in JSON form"))
    if kw == "VOLUME" and any(not v.strip(GO_SPACE) for v in words):
        raise error("VOLUME specified can not be an empty string")
    if kw in ("ENV", "LABEL", "ARG"):
        check(args, escape, path, line, kw)
    elif kw in ("WORKDIR", "USER", "STOPSIGNAL"):
        check(args, escape, path, line)
    elif kw in ("ADD", "COPY", "EXPOSE", "VOLUME", "FROM") and not exec_form:
        for word in words[:1] if kw == "FROM" else words:   # docker expands each word alone
            check(word, escape, path, line)
    elif kw == "HEALTHCHECK":
        kind, rest = words[0].upper(), args[len(words[0]):].strip(GO_SPACE)
        if kind == "NONE" and rest:
            raise error("HEALTHCHECK NONE takes no arguments")
        if kind not in ("NONE", "CMD"):
            raise error(f"Unknown type {json.dumps(kind)} in HEALTHCHECK (try CMD)")
        if kind == "CMD" and (not rest or ins.json_args == ()):
            raise error("Missing command after HEALTHCHECK CMD")
    elif kw == "ONBUILD":
        inner = words[0].upper()
        if inner == "ONBUILD":
            raise error("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if inner in ("MAINTAINER", "FROM"):
            raise error(f"{inner} isn't allowed as an ONBUILD trigger")
        parse_instruction(onbuild_trigger(ins), path, line, escape)   # the trigger, checked now


def parse(text: str, path: str = "Dockerfile") -> Dockerfile:
    """The Dockerfile's stages; DockerfileError(path, line, message) on bad input."""
    reader = Reader(text, path)
    instructions, warnings = [], []
    while (got := reader.logical()) is not None:
        line, start, empty = got
        ins = _instruction(line, start, reader)
        if empty:
            warnings.append(f"{path}:{start}: empty continuation line found in: {shown(line)} "
                            "(empty continuation lines will become errors in a future release)")
        instructions.append(ins)
    if "syntax" in reader.directives:
        warnings.append(f"{path}:1: # syntax={reader.directives['syntax']} ignored: "
                        "minictr builds with its own Dockerfile frontend")
    if not instructions:
        raise reader.error(max(reader.line, 1), "file with no instructions")
    meta, stages = [], []
    for ins in instructions:
        if ins.keyword == "FROM":
            words = _SPLIT.split(ins.args)
            name = words[2].lower() if len(words) == 3 else ""
            twin = next((s for s in stages if name and s[1] == name), None)
            if twin:
                raise reader.error(ins.line, f"duplicate stage name {name!r} (first on line {twin[4]}), "
                                             "stage names should be unique")
            stages.append([len(stages), name, words[0], dict(ins.flags).get("platform", ""), ins.line, []])
        elif not stages and ins.keyword == "ARG":
            meta.append(ins)
        elif not stages:
            raise reader.error(ins.line, "no build stage in current context")
        else:
            stages[-1][5].append(ins)
    if not stages:
        raise reader.error(instructions[-1].line, "dockerfile contains no stages to build")
    return Dockerfile(path, reader.escape, dict(reader.directives), tuple(meta),
                      tuple(Stage(*s[:5], tuple(s[5])) for s in stages), tuple(warnings))


def parse_instruction(text: str, path: str = "Dockerfile", line: int = 1, escape: str = "\\") -> Instruction:
    """One instruction (an ONBUILD trigger: its line, then any heredoc
    bodies), its first line numbered `line`."""
    reader = Reader(text, path, line)
    reader.directives_done = True
    reader.set_escape(escape)
    got = reader.logical()
    if got is None:
        raise reader.error(line, "onbuild trigger should be a single expression")
    ins = _instruction(got[0], got[1], reader)
    if reader.logical() is not None:
        raise reader.error(line, "onbuild trigger should be a single expression")
    return ins


def onbuild_trigger(ins: Instruction) -> str:
    """What docker stores in the image's OnBuild list for an ONBUILD
    instruction: the inner instruction, then each heredoc body and delimiter."""
    text = re.sub(r"(?i)^[\t\n\f\r ]*ONBUILD[\t\n\f\r ]*", "", ins.original)
    return text + "".join(f"\n{h.content}{h.name}" for h in ins.heredocs)


def split_args(args: str) -> list[str]:
    """Whitespace-separated words as the parser splits COPY/ADD/VOLUME/EXPOSE/
    FROM (quotes not special: each word is expanded on its own later)."""
    return _SPLIT.split(args) if args else []
