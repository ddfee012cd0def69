"""The Dockerfile parser against BuildKit's rules (frontend/dockerfile/parser
and instructions/parse.go): directives, continuations, comments, heredocs,
flags, the exec form, stages, every instruction, and hostile input. Every
error names the file and the line."""
import random

import pytest

from minictr.build.dockerfile import (KEYWORDS, Heredoc, onbuild_trigger, parse, parse_instruction,
                                      split_args)
from minictr.build.errors import BuildError, DockerfileError

PATH = "ctx/Dockerfile"


def fails(text, line, fragment, path=PATH):
    with pytest.raises(DockerfileError) as got:
        parse(text, path)
    e = got.value
    assert (e.path, e.line) == (path, line), str(e)
    assert str(e).startswith(f"{path}:{line}: "), str(e)
    assert fragment in str(e), str(e)
    assert "\n" not in str(e)
    return e


def only(text):
    """The one instruction after FROM."""
    (ins,) = parse("FROM scratch\n" + text).stages[0].instructions
    return ins


# -- every instruction -----------------------------------------------------------

ALL = """\
ARG BASE=busybox
FROM ${BASE} AS build
LABEL a=b "c d"="e f"
MAINTAINER Jane Doe <jane@example.com>
RUN echo hi
CMD ["sh", "-c", "echo"]
EXPOSE 80/tcp 443
ENV A=1 B="two words"
ADD --chown=1:1 a.tar.gz /opt/
COPY --from=build --chmod=755 /bin/x /usr/bin/
ENTRYPOINT ["/bin/sh"]
VOLUME ["/data", "/cache"]
USER nobody:nogroup
WORKDIR /work
ARG LATE
ONBUILD RUN echo later
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://localhost/
SHELL ["/bin/bash", "-c"]
"""


def test_every_instruction_parses_with_its_arguments_and_lines():
    df = parse(ALL, PATH)
    assert [i.keyword for i in df.meta_args] == ["ARG"]
    (stage,) = df.stages
    got = [(i.keyword, i.args, i.line) for i in stage.instructions]
    assert got == [
        ("LABEL", 'a=b "c d"="e f"', 3), ("MAINTAINER", "Jane Doe <jane@example.com>", 4),
        ("RUN", "echo hi", 5), ("CMD", '["sh", "-c", "echo"]', 6), ("EXPOSE", "80/tcp 443", 7),
        ("ENV", 'A=1 B="two words"', 8), ("ADD", "a.tar.gz /opt/", 9), ("COPY", "/bin/x /usr/bin/", 10),
        ("ENTRYPOINT", '["/bin/sh"]', 11), ("VOLUME", '["/data", "/cache"]', 12),
        ("USER", "nobody:nogroup", 13), ("WORKDIR", "/work", 14), ("ARG", "LATE", 15),
        ("ONBUILD", "RUN echo later", 16), ("STOPSIGNAL", "SIGTERM", 17),
        ("HEALTHCHECK", "CMD curl -f http://localhost/", 18), ("SHELL", '["/bin/bash", "-c"]', 19)]
    seen = {i.keyword for i in stage.instructions} | {"FROM", "ARG"}
    assert seen == set(KEYWORDS)
    by = {i.keyword: i for i in stage.instructions}
    assert by["CMD"].json_args == ("sh", "-c", "echo")
    assert by["RUN"].json_args is None
    assert by["VOLUME"].json_args == ("/data", "/cache")
    assert by["COPY"].flags == (("from", "build"), ("chmod", "755"))
    assert by["HEALTHCHECK"].flags == (("interval", "5s"), ("retries", "3"))
    assert by["HEALTHCHECK"].json_args is None
    assert (stage.index, stage.name, stage.base, stage.platform, stage.from_line) == (0, "build", "${BASE}", "", 2)
    assert df.escape == "\\" and df.directives == {} and df.warnings == ()


def test_instructions_are_case_insensitive():
    df = parse("from busybox as Base\nrun echo a\nCoPy a b\n")
    assert [i.keyword for i in df.stages[0].instructions] == ["RUN", "COPY"]
    assert df.stages[0].name == "base"


def test_original_is_the_joined_line():
    ins = only("RUN  --network=none  echo \\\n  a\n")
    assert ins.original == "RUN  --network=none  echo   a"
    assert ins.args == "echo   a"
    assert (ins.line, ins.end_line) == (2, 3)


# -- directives ------------------------------------------------------------------

def test_escape_directive_backtick():
    df = parse("# escape=`\nFROM scratch\nRUN dir c:\\ `\n  && echo done\n")
    assert df.escape == "`" and df.directives == {"escape": "`"}
    ins = df.stages[0].instructions[0]
    assert ins.args == "dir c:\\   && echo done"
    assert (ins.line, ins.end_line) == (3, 4)


def test_directives_syntax_check_and_case():
    df = parse("#  SYNTAX = docker/dockerfile:1.7  \n# Check=skip=all\n  # escape=\\\nFROM scratch\n")
    assert df.directives == {"syntax": "docker/dockerfile:1.7", "check": "skip=all", "escape": "\\"}
    assert any("syntax=docker/dockerfile:1.7 ignored" in w for w in df.warnings)


@pytest.mark.parametrize("before", ["\n", "# a comment\n", "FROM scratch\n", "# foo=bar\n"])
def test_a_directive_after_anything_else_is_a_comment(before):
    df = parse(before + "# escape=`\nFROM scratch\nRUN a `\n")
    assert df.escape == "\\" and "escape" not in df.directives
    assert df.stages[-1].instructions[-1].args == "a `"


def test_directive_errors():
    fails("# escape=\\\n# escape=`\nFROM scratch\n", 2, "only one escape parser directive can be used")
    fails("# escape=x\nFROM scratch\n", 1, "invalid escape token 'x' does not match ` or \\")


# -- continuations and comments -----------------------------------------------------

def test_comment_lines_are_dropped_inside_a_continuation():
    ins = only("RUN a \\\n# one\n    # two\n  b\n")
    assert ins.args == "a   b"
    assert (ins.line, ins.end_line) == (2, 5)


def test_a_hash_inside_a_line_is_not_a_comment():
    assert only("RUN echo a # b\n").args == "echo a # b"


def test_empty_continuation_lines_are_allowed_with_a_warning():
    df = parse("FROM scratch\nEXPOSE \\\n\n   \n80\n", PATH)
    ins = df.stages[0].instructions[0]
    assert ins.args == "80" and (ins.line, ins.end_line) == (2, 5)
    (warning,) = df.warnings
    assert warning.startswith(f"{PATH}:2: empty continuation line")


def test_continuation_details():
    assert only("RUN a \\   \t\n b\n").args == "a  b"          # blanks after the backslash
    df = parse("FROM scratch\nRUN a \\\\\nRUN b\n")
    assert [i.args for i in df.stages[0].instructions] == ["a \\\\", "b"]   # an escaped backslash ends it
    assert only("RUN a \\").args == "a"                         # continuation at end of file
    df = parse("FROM scratch\nRUN a\\\nRUN b\n")
    assert df.stages[0].instructions[0].args == "aRUN b"       # docker joins without a space


def test_crlf_line_endings():
    df = parse("FROM scratch\r\nRUN a \\\r\n  b\r\nCOPY <<EOF /x\r\nhi\r\nEOF\r\nUSER me\r\n")
    run, copy, user = df.stages[0].instructions
    assert run.args == "a   b" and user.args == "me" and user.line == 7
    assert copy.heredocs == (Heredoc("EOF", "hi\r\n", True, False),)


def test_byte_order_mark():
    df = parse("\ufeff# escape=`\nFROM scratch\n")
    assert df.escape == "`"
    assert parse("\ufeffFROM scratch\n").stages[0].base == "scratch"


# -- stages ------------------------------------------------------------------------

def test_stages_meta_args_and_names():
    df = parse("ARG A\nARG B=2\nFROM --platform=linux/arm64 img:${A} aS One\nARG A\nRUN x\n"
               "FROM one\nFROM scratch AS final-2.x_y\n")
    assert [i.args for i in df.meta_args] == ["A", "B=2"]
    s0, s1, s2 = df.stages
    assert (s0.name, s0.base, s0.platform, s0.from_line) == ("one", "img:${A}", "linux/arm64", 3)
    assert [i.keyword for i in s0.instructions] == ["ARG", "RUN"]
    assert (s1.index, s1.name, s1.base, s1.instructions) == (1, "", "one", ())
    assert s2.name == "final-2.x_y"


def test_from_must_come_first():
    fails("# c\nRUN echo\nFROM scratch\n", 2, "no build stage in current context")
    fails("ARG A\nENV B=1\nFROM scratch\n", 2, "no build stage in current context")
    fails("ARG A\nARG B\n", 2, "dockerfile contains no stages to build")
    fails("", 1, "file with no instructions")
    fails("# only\n\n   \n# comments\n", 4, "file with no instructions")


def test_from_errors():
    fails("FROM\n", 1, "FROM requires either one or three arguments")
    fails("FROM a b\n", 1, "FROM requires either one or three arguments")
    fails("FROM a AS b c\n", 1, "FROM requires either one or three arguments")
    fails("FROM a AS 1st\n", 1, "invalid name for build stage")
    fails("FROM a AS x$y\n", 1, "name can't start with a number or contain symbols")
    fails("FROM a AS b\nFROM c AS B\n", 2, "duplicate stage name 'b'")
    fails("FROM --platfrom=x a\n", 1, "unknown flag: platfrom (did you mean platform?)")
    fails("FROM ${A\n", 1, "missing '}'")


# -- unknown instructions -------------------------------------------------------------

def test_unknown_instruction_names_the_line():
    e = fails("FROM scratch\n\nFOO bar\n", 3, "unknown instruction: FOO")
    fails("FROM scratch\nRUNN echo\n", 2, "unknown instruction: RUNN (did you mean RUN?)")
    assert isinstance(e, BuildError) and e.exit_code == 1


def test_text_after_a_heredoc_in_a_non_heredoc_instruction_is_an_instruction():
    fails("FROM scratch\nCMD <<EOF\necho hi\nEOF\n", 3, "unknown instruction: echo")


# -- heredocs -------------------------------------------------------------------------

def test_run_heredoc():
    ins = only("RUN <<EOF\necho $HOME\n  EOF\nEOF\n")
    assert ins.args == "<<EOF" and ins.json_args is None
    assert ins.heredocs == (Heredoc("EOF", "echo $HOME\n  EOF\n", True, False),)
    assert (ins.line, ins.end_line) == (2, 5)


def test_chomped_and_quoted_heredocs():
    ins = only("RUN <<-'X' python3\n\tprint(1)\n\t\tx = 2\n\tX\n")
    assert ins.heredocs == (Heredoc("X", "print(1)\nx = 2\n", False, True),)
    assert only('RUN <<"EOF"\nbody\nEOF\n').heredocs[0].expand is False
    assert only('RUN <<E"O"F\nbody\nEOF\n').heredocs[0] == Heredoc("EOF", "body\n", False, False)
    assert only("RUN <<EOF\n\tkeep\nEOF\n").heredocs[0].content == "\tkeep\n"


def test_several_heredocs_in_one_line_and_after_it():
    ins = only("COPY --chmod=644 <<A <<B /dst/\none\nA\ntwo\nB\n")
    assert [(h.name, h.content) for h in ins.heredocs] == [("A", "one\n"), ("B", "two\n")]
    df = parse("FROM scratch\nRUN <<A cat - && cat <<B\na\nA\nb\nB\nUSER x\n")
    run, user = df.stages[0].instructions
    assert len(run.heredocs) == 2 and run.end_line == 6 and user.line == 7


def test_empty_heredoc_and_add():
    assert only("ADD <<EOF /x\nEOF\n").heredocs == (Heredoc("EOF", "", True, False),)


@pytest.mark.parametrize("text", ['RUN ["cat", "<<EOF"]', "RUN cat << EOF", "RUN cat <<<EOF",
                                  'RUN echo "<<EOF"', "RUN echo a<<b", "CMD cat <<EOF",
                                  "ENTRYPOINT cat <<EOF", "RUN cat <<EOF 'unclosed"])
def test_not_heredocs(text):
    df = parse("FROM scratch\n" + text + "\nUSER x\n")
    assert df.stages[0].instructions[0].heredocs == ()
    assert df.stages[0].instructions[1].keyword == "USER"


def test_heredoc_errors():
    fails("FROM scratch\nRUN <<EOF\necho\n", 2, "unterminated heredoc")
    fails("FROM scratch\nCOPY <<A <<B /x\na\nA\n", 2, "unterminated heredoc")
    fails("FROM scratch\nRUN <<-EOF\n  EOF\n", 2, "unterminated heredoc")   # spaces are not tabs
    fails("FROM scratch\nCOPY a <<EOF\nx\nEOF\n", 2, "COPY cannot accept a heredoc as a destination")
    fails("FROM scratch\nCOPY <<EOF\nx\nEOF\n", 2, "COPY requires at least two arguments")


def test_a_heredoc_that_never_ends():
    fails("FROM scratch\nRUN <<EOF\n" + "line\n" * 100_000, 2, "unterminated heredoc")


# -- the exec (JSON) form -------------------------------------------------------------

@pytest.mark.parametrize("args, expect", [
    ('["a", "b"]', ("a", "b")), ("[]", ()), ('[ "a" ]', ("a",)), ('  ["\\u00e9\\n"]', ("é\n",)),
    ('["a"] trailing text', ("a",)),           # docker decodes the first JSON value only
    ("[a, b]", None), ("['a']", None), ('[ -f /x ] && echo', None), ('[ "$A" = "b" ]', None),
    ('["a" "b"]', None), ('["a", NaN]', None), ("echo [x]", None)])
def test_exec_form(args, expect):
    assert only(f"CMD {args}\n").json_args == expect
    assert only(f"RUN {args}\n").json_args == expect


def test_exec_form_of_copy_and_add():
    assert only('COPY ["a b", "/c d/"]\n').json_args == ("a b", "/c d/")
    assert only('ADD ["x", "/y"]\n').json_args == ("x", "/y")


@pytest.mark.parametrize("text", ['ENV A=["x"]', 'LABEL A=["x"]', 'ARG A=["x"]', 'USER ["x"]',
                                  'WORKDIR ["/x"]', 'EXPOSE ["80"]', 'STOPSIGNAL ["TERM"]'])
def test_no_exec_form_outside_its_instructions(text):
    assert only(text + "\n").json_args is None


def test_exec_form_errors():
    fails('FROM scratch\nCMD ["a", 1]\n', 2, "arrays must be comprised of strings only")
    fails('FROM scratch\nRUN ["a", null]\n', 2, "arrays must be comprised of strings only")
    fails('FROM scratch\nVOLUME [["/a"]]\n', 2, "arrays must be comprised of strings only")
    fails('FROM scratch\nCMD ["a", "b]\n', 2, "unterminated JSON array")
    fails('FROM scratch\nENTRYPOINT ["a",\n', 2, "unterminated JSON array")
    fails('FROM scratch\nRUN \\\n ["a", \\\n "b"\n', 2, "unterminated JSON array")
    fails('FROM scratch\nSHELL /bin/sh -c\n', 2, "SHELL requires the arguments to be in JSON form")
    fails('FROM scratch\nSHELL []\n', 2, "SHELL requires at least one argument")
    fails('FROM scratch\nVOLUME ["/a", " "]\n', 2, "VOLUME specified can not be an empty string")
    fails("FROM scratch\nCMD " + "[" * 5000 + "\n", 2, "JSON")


# -- flags -----------------------------------------------------------------------------

def test_flags_in_order_with_quotes_and_bare_ones():
    ins = only('RUN --mount=type=cache,target=/a --mount="type=tmpfs,target=/b c" --network=none echo\n')
    assert ins.flags == (("mount", "type=cache,target=/a"), ("mount", "type=tmpfs,target=/b c"),
                         ("network", "none"))
    assert ins.args == "echo"
    assert only("COPY --link --parents=false a b\n").flags == (("link", ""), ("parents", "false"))
    assert only("COPY --from=a -- --not-a-flag b\n").args == "--not-a-flag b"
    assert only("RUN echo --not-a-flag\n").flags == ()
    assert only("STOPSIGNAL --whatever SIGKILL\n").flags == (("whatever", ""),)   # docker ignores these


def test_flag_errors():
    fails("FROM scratch\nCMD --help\n", 2, "unknown flag: help")
    fails("FROM scratch\nCOPY --form=x a b\n", 2, "unknown flag: form (did you mean from?)")
    fails("FROM scratch\nCOPY --from a b\n", 2, "missing a value on flag: from")
    fails("FROM scratch\nCOPY --link= a b\n", 2, "missing a value on flag: link")
    fails("FROM scratch\nCOPY --link=maybe a b\n", 2, "expecting boolean value for flag link")
    fails("FROM scratch\nCOPY --from=a --from=b a b\n", 2, "duplicate flag specified: from")
    fails("FROM scratch\nONBUILD --x RUN y\n", 2, "unknown flag: x")


# -- instruction rules ----------------------------------------------------------------------

@pytest.mark.parametrize("text, fragment", [
    ("MAINTAINER", "MAINTAINER requires exactly one argument"),
    ("WORKDIR", "WORKDIR requires exactly one argument"),
    ("USER  ", "USER requires exactly one argument"),
    ("STOPSIGNAL", "STOPSIGNAL requires exactly one argument"),
    ("EXPOSE", "EXPOSE requires at least one argument"),
    ("VOLUME", "VOLUME requires at least one argument"),
    ("ONBUILD", "ONBUILD requires at least one argument"),
    ("HEALTHCHECK", "HEALTHCHECK requires at least one argument"),
    ("ADD a", "ADD requires at least two arguments"),
    ("COPY", "COPY requires at least two arguments"),
    ("ENV", "ENV requires at least one argument"),
    ("ENV A", "ENV must have two arguments"),
    ("LABEL A=1 B", "Syntax error - can't find = in \"B\""),
    ("ENV =1", "ENV names can not be blank"),
    ("ARG =x", "ARG names can not be blank"),
    ("ARG", "ARG requires at least one argument"),
    ('ENV A="unterminated', "looking for matching double-quote"),
    ("LABEL a='open", "looking for matching single-quote"),
    ("WORKDIR ${HOME", "missing '}'"),
    ("USER ${X:=y}", "unsupported modifier (:=)"),
    ("COPY ${A b", "missing '}'"),
    ('COPY "a b" /c', "looking for matching double-quote"),    # docker splits COPY on spaces first
    ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
    ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
    ("HEALTHCHECK CMD []", "Missing command after HEALTHCHECK CMD"),
    ("HEALTHCHECK RUN x", 'Unknown type "RUN" in HEALTHCHECK (try CMD)'),
    ("HEALTHCHECK --interval=1s --bogus=2 CMD x", "unknown flag: bogus"),
    ("ONBUILD ONBUILD RUN x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
    ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
    ("ONBUILD maintainer x", "MAINTAINER isn't allowed as an ONBUILD trigger"),
    ("ONBUILD NOPE x", "unknown instruction: NOPE"),
    ("ONBUILD ENV A", "ENV must have two arguments"),
])
def test_instruction_rules(text, fragment):
    fails(f"FROM scratch\n\n{text}\n", 3, fragment)


def test_what_is_not_checked_early():
    # RUN/CMD/ENTRYPOINT are the shell's text; ${X:?} depends on the build's values
    assert only('RUN echo "${unclosed\n').args == 'echo "${unclosed'
    assert only("CMD echo 'x\n").json_args is None
    assert only('ENV A="${X:?must be set}"\n').args == 'A="${X:?must be set}"'
    assert only("MAINTAINER ${not expanded\n").args == "${not expanded"


def test_healthcheck_forms():
    assert only("HEALTHCHECK NONE\n").json_args is None
    assert only("HEALTHCHECK --interval=1s NONE\n").flags == (("interval", "1s"),)
    ins = only('HEALTHCHECK --timeout=3s --start-period=1s --start-interval=2s CMD ["curl", "-f", "x"]\n')
    assert ins.json_args == ("curl", "-f", "x")
    assert [f for f, _ in ins.flags] == ["timeout", "start-period", "start-interval"]


def test_env_legacy_form_and_volume_list():
    assert only("ENV PATH /usr/bin:$PATH  and more\n").args == "PATH /usr/bin:$PATH  and more"
    assert only("VOLUME /a /b\n").json_args is None
    assert split_args("/a  \t/b") == ["/a", "/b"] and split_args("") == []


# -- ONBUILD ---------------------------------------------------------------------------------

def test_onbuild_keeps_its_inner_instruction():
    ins = only("ONBUILD COPY --from=x a b\n")
    assert ins.keyword == "ONBUILD" and ins.args == "COPY --from=x a b" and ins.flags == ()
    inner = parse_instruction(onbuild_trigger(ins), PATH, 7)
    assert (inner.keyword, inner.flags, inner.args, inner.line) == ("COPY", (("from", "x"),), "a b", 7)


def test_onbuild_with_heredocs_round_trips():
    ins = only("onbuild RUN <<EOF\necho one\nEOF\n")
    assert ins.heredocs == (Heredoc("EOF", "echo one\n", True, False),)
    trigger = onbuild_trigger(ins)
    assert trigger == "RUN <<EOF\necho one\nEOF"
    inner = parse_instruction(trigger, PATH, 3)
    assert inner.heredocs == ins.heredocs and (inner.line, inner.end_line) == (3, 5)


def test_parse_instruction_errors():
    with pytest.raises(DockerfileError) as e:
        parse_instruction("RUN a\nRUN b", PATH, 9)
    assert (e.value.path, e.value.line) == (PATH, 9) and "single expression" in str(e.value)
    with pytest.raises(DockerfileError) as e:
        parse_instruction("# nothing", PATH, 4)
    assert e.value.line == 4
    with pytest.raises(DockerfileError) as e:
        parse_instruction("BOGUS x", PATH, 5)
    assert str(e.value) == f"{PATH}:5: unknown instruction: BOGUS"


# -- hostile input ---------------------------------------------------------------------------

def test_nul_bytes():
    ins = only("RUN echo \x00 done\n")
    assert ins.args == "echo \x00 done"
    e = fails("FROM scratch\nRU\x00N x\n", 2, "unknown instruction: RU\\x00N")
    assert "\x00" not in str(e)


def test_a_one_megabyte_line_is_refused_as_docker_does():
    fails("FROM scratch\nRUN echo " + "x" * (1 << 20) + "\n", 2, "dockerfile line greater than max allowed size of 65535")
    assert len(only("RUN " + "x" * 65000 + "\n").args) == 65000
    fails("FROM scratch\nRUN <<EOF\n" + "é" * 40000 + "\nEOF\n", 3, "max allowed size")


def test_binary_junk_gives_a_clean_error():
    junk = bytes(random.Random(7).randrange(256) for _ in range(4096)).decode("latin-1")
    with pytest.raises(DockerfileError) as e:
        parse(junk, PATH)
    assert str(e.value).startswith(f"{PATH}:") and "\n" not in str(e.value)


def test_random_mutations_only_raise_dockerfile_errors():
    rng = random.Random(13)
    pieces = ["FROM a AS b\n", "RUN <<EOF\n", "EOF\n", "\\\n", "# escape=`\n", '["a", ', '"', "'", "${",
              "}", "--mount=x ", "COPY ", "ONBUILD ", "HEALTHCHECK ", "ENV ", "ARG ", "\n", " ", "<<-'X'",
              "X\n", "\t", "\r\n", "\x00", "[", "]", "=", "\ufeff", "`", "SHELL ", "LABEL a=b "]
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 25)))
        try:
            parse(text, PATH)
        except DockerfileError as e:
            assert e.path == PATH and e.line >= 1
            assert "\n" not in str(e)


def test_deeply_nested_substitution_is_an_error_not_a_crash():
    fails("FROM scratch\nWORKDIR " + "${a:-" * 3000 + "\n", 2, "nested too deeply")
