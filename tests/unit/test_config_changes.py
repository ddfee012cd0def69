"""docker's --change instructions (oci/config_changes.py): what each does
to an image config, and one clear error naming the instruction for bad,
truncated and hostile input, all raised by parse_changes before anything
is written."""
import pytest

from minictr.oci.config_changes import InvalidChange, apply_changes, parse_changes

BASE = {"Env": ["PATH=/bin", "A=0"], "WorkingDir": "/w", "Labels": {"keep": "1"}, "ExposedPorts": {"22/tcp": {}}}


def _applied(*changes: str, config: dict | None = None) -> dict:
    return apply_changes(BASE if config is None else config, parse_changes(list(changes)))


def _error(*changes: str) -> InvalidChange:
    with pytest.raises(InvalidChange) as e:
        parse_changes(list(changes))
    return e.value


# -- what they do ----------------------------------------------------------------

def test_cmd_and_entrypoint_take_the_exec_form_or_the_shell_form():
    assert _applied('CMD ["cat", "/x y"]')["Cmd"] == ["cat", "/x y"]
    assert _applied("CMD echo $HOME")["Cmd"] == ["/bin/sh", "-c", "echo $HOME"]
    assert _applied('ENTRYPOINT ["/init"]')["Entrypoint"] == ["/init"]
    assert _applied("CMD []")["Cmd"] == []
    # not JSON at all: docker takes it as the shell form, and so do we
    assert _applied('CMD ["echo", "hi"')["Cmd"] == ["/bin/sh", "-c", '["echo", "hi"']
    assert _applied("CMD [not json")["Cmd"] == ["/bin/sh", "-c", "[not json"]


def test_env_replaces_a_variable_in_place_of_order_and_takes_both_forms():
    env = _applied('ENV A=1 B="two words"', "ENV C   old form value", "env D=")["Env"]
    assert env == ["PATH=/bin", "A=1", "B=two words", "C=old form value", "D="]
    assert BASE["Env"] == ["PATH=/bin", "A=0"]   # the input is not touched


def test_label_workdir_user_stopsignal():
    out = _applied("LABEL a=b c=\"d e\"", "WORKDIR sub/../dir", "WORKDIR /abs", "WORKDIR rel", "USER 1000:1000",
                   "STOPSIGNAL SIGINT")
    assert out["Labels"] == {"keep": "1", "a": "b", "c": "d e"}
    assert out["WorkingDir"] == "/abs/rel" and out["User"] == "1000:1000" and out["StopSignal"] == "SIGINT"
    assert _applied("WORKDIR sub/../dir")["WorkingDir"] == "/w/dir"
    assert _applied("WORKDIR ../../..", config={})["WorkingDir"] == "/"


def test_expose_and_volume():
    out = _applied("EXPOSE 80 53/udp 8000-8010 443/TCP 9/", "VOLUME /a /b", 'VOLUME ["/c", "/d e"]')
    assert set(out["ExposedPorts"]) == {"22/tcp", "80/tcp", "53/udp", "8000-8010/tcp", "443/tcp", "9/tcp"}
    assert set(out["Volumes"]) == {"/a", "/b", "/c", "/d e"}
    assert set(_applied("VOLUME [not json")["Volumes"]) == {"[not", "json"}


def test_blank_changes_are_skipped_and_the_word_is_case_blind():
    assert parse_changes(["", "   ", "cmd  echo hi  ", "Env\tA=1"]) == [("CMD", "echo hi"), ("ENV", "A=1")]


# -- errors, each naming the instruction -----------------------------------------

@pytest.mark.parametrize("change, instruction, text", [
    ("FROM scratch", "FROM", "FROM is not a valid change command"),
    ("RUN rm -rf /", "RUN", "RUN is not a valid change command"),
    ("HEALTHCHECK NONE", "HEALTHCHECK", "HEALTHCHECK is not a valid change command"),
    ("CMD", "CMD", "CMD requires at least one argument"),
    ("ENV    ", "ENV", "ENV requires at least one argument"),
    ('CMD ["echo", 1]', "CMD", "arrays must be comprised of strings only"),
    ('ENTRYPOINT [["nested"]]', "ENTRYPOINT", "arrays must be comprised of strings only"),
    ('VOLUME ["/a", null]', "VOLUME", "arrays must be comprised of strings only"),
    ('VOLUME [""]', "VOLUME", "a volume cannot be an empty string"),
    ('ENV A="unterminated', "ENV", "No closing quotation"),
    ("ENV LONELY", "ENV", "expected KEY=VALUE (or KEY VALUE)"),
    ("LABEL novalue", "LABEL", "expected KEY=VALUE"),
    ("LABEL =value", "LABEL", "expected KEY=VALUE"),
    ("ENV A=1 =2", "ENV", "expected KEY=VALUE"),
    ("LABEL a='b", "LABEL", "No closing quotation"),
    ("EXPOSE http", "EXPOSE", "invalid port 'http'"),
    ("EXPOSE 80-", "EXPOSE", "invalid port '80-'"),
    ("EXPOSE -80", "EXPOSE", "invalid port '-80'"),
    ("EXPOSE 8-0-0", "EXPOSE", "invalid port '8-0-0'"),
    ("EXPOSE 80/tcp/x", "EXPOSE", "invalid port '80/tcp/x'"),
    ("EXPOSE 65536", "EXPOSE", "invalid port range '65536'"),
    ("EXPOSE 9000-8000", "EXPOSE", "invalid port range '9000-8000'"),
    ("EXPOSE 80/icmp", "EXPOSE", "invalid protocol 'icmp'"),
    ("EXPOSE ٨٠", "EXPOSE", "invalid port"),   # Arabic-Indic digits: str.isdigit() says yes, a port is ASCII
])
def test_bad_input_names_the_instruction(change, instruction, text):
    e = _error("ENV OK=1", change)
    assert e.instruction == instruction and text in str(e)
    assert str(e).startswith(instruction)


def test_the_first_bad_change_in_order_is_the_one_reported():
    assert _error("CMD ok", "EXPOSE nope", "FROM x").instruction == "EXPOSE"
    assert _error("CMD ok", "FROM x", "EXPOSE nope").instruction == "FROM"


# -- hostile input ---------------------------------------------------------------

def test_a_nul_character_is_refused_raw_or_escaped_in_json():
    assert "NUL" in str(_error("ENV A=b\0c"))
    assert "NUL" in str(_error('CMD ["echo", "a\\u0000b"]'))
    assert _error("LABEL x=\0").instruction == "LABEL"


def test_bytes_that_were_not_utf8_are_refused():
    # what Python makes of a non-UTF-8 argv byte (0xff): a surrogate escape
    e = _error("LABEL a=\udcff")
    assert e.instruction == "LABEL" and "not valid UTF-8" in str(e)


def test_a_lookalike_instruction_word_is_not_a_command():
    # "ı" (dotless i) upper-cases to "I": "entrypoınt" must not pass for ENTRYPOINT
    e = _error("entrypo\u0131nt /bin/sh")
    assert "is not a valid change command" in str(e)


def test_deeply_nested_json_is_the_shell_form_not_a_crash():
    deep = "[" * 100_000
    assert _applied(f"CMD {deep}")["Cmd"] == ["/bin/sh", "-c", deep]


def test_a_huge_change_is_quoted_shortened_in_its_error():
    e = _error("EXPOSE " + "9" * 100_000)
    assert len(str(e)) < 600 and "100000 characters" in str(e)
    e = _error("X" * 50_000 + " y")
    assert len(str(e)) < 400 and "is not a valid change command" in str(e)


def test_a_change_that_is_not_text_is_refused():
    with pytest.raises(InvalidChange, match="expected a Dockerfile instruction"):
        parse_changes([b"CMD x"])
    with pytest.raises(InvalidChange, match="expected a Dockerfile instruction"):
        parse_changes([None])


def test_apply_changes_refuses_an_instruction_it_does_not_know():
    with pytest.raises(InvalidChange, match="RUN is not a valid change command"):
        apply_changes({}, [("RUN", "true")])


def test_apply_changes_returns_a_copy():
    config = {"Labels": {"a": "1"}, "Env": ["X=1"]}
    out = apply_changes(config, [("LABEL", "b=2"), ("ENV", "Y=2")])
    assert config == {"Labels": {"a": "1"}, "Env": ["X=1"]}
    assert out == {"Labels": {"a": "1", "b": "2"}, "Env": ["X=1", "Y=2"]}
