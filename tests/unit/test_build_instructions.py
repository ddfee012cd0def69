"""The config-only instructions and the context's path rules, without a
Dockerfile parser: docker's results and docker's words for bad input."""
import os

import pytest

from minictr.build import instructions as ins
from minictr.build.context import BuildContext, _clean, _resolve_in_root
from minictr.build.errors import BuildError, DockerfileError

WHERE = ("Dockerfile", 7)


class Ins:
    def __init__(self, args, json_args=None):
        self.args, self.json_args = args, json_args


def test_env_replaces_a_key_in_place_and_appends_new_ones():
    config = {"Env": ["PATH=/bin", "A=1"]}
    out = ins.set_env(config, [("A", "2"), ("B", "x y")])
    assert out["Env"] == ["PATH=/bin", "A=2", "B=x y"] and config["Env"] == ["PATH=/bin", "A=1"]


def test_commands_exec_and_shell_forms():
    assert ins.command(Ins('["a", "b"]', ("a", "b")), ["/bin/sh", "-c"]) == ["a", "b"]
    assert ins.command(Ins("echo $HOME"), ["/bin/sh", "-c"]) == ["/bin/sh", "-c", "echo $HOME"]


def test_workdir_is_relative_to_the_last_one():
    assert ins.workdir(ins.workdir({}, "/app"), "src/../lib")["WorkingDir"] == "/app/lib"


@pytest.mark.parametrize("ports, keys", [(["80"], ["80/tcp"]), (["53/UDP", "8000-8002"], ["53/udp", "8000/tcp", "8001/tcp", "8002/tcp"])])
def test_expose(ports, keys):
    assert sorted(ins.expose({}, ports, WHERE)["ExposedPorts"]) == sorted(keys)


@pytest.mark.parametrize("bad", ["http", "80/xyz", "-1", "80-", "8o"])
def test_expose_refuses_what_docker_refuses(bad):
    with pytest.raises(DockerfileError, match=r"Dockerfile:7: EXPOSE: invalid port"):
        ins.expose({}, [bad], WHERE)


def test_healthcheck_forms_and_durations():
    out = ins.healthcheck({}, Ins("CMD curl -f http://localhost/"), {"interval": "1m30s", "retries": "3",
                                                                     "start-period": "500ms"}, [], WHERE)
    assert out["Healthcheck"] == {"Test": ["CMD-SHELL", "curl -f http://localhost/"], "Interval": 90_000_000_000,
                                  "StartPeriod": 500_000_000, "Retries": 3}
    out = ins.healthcheck({}, Ins('CMD ["/bin/check", "-q"]'), {}, [], WHERE)
    assert out["Healthcheck"]["Test"] == ["CMD", "/bin/check", "-q"]
    assert ins.healthcheck({}, Ins("NONE"), {}, [], WHERE)["Healthcheck"] == {"Test": ["NONE"]}


@pytest.mark.parametrize("args, flags, message", [
    ("NONE", {"interval": "1s"}, "takes no options"),
    ("echo hi", {}, "expected CMD or NONE"),
    ("CMD", {}, "expected CMD or NONE"),
    ("CMD true", {"interval": "10"}, "invalid duration"),
    ("CMD true", {"timeout": "1us"}, "cannot be less than 1ms"),
    ("CMD true", {"retries": "0"}, "--retries: expected a positive number"),
    ("CMD true", {"bogus": "1"}, "unknown flag --bogus"),
])
def test_healthcheck_errors_name_the_line(args, flags, message):
    with pytest.raises(DockerfileError) as e:
        ins.healthcheck({}, Ins(args), dict(flags), [], WHERE)
    assert str(e.value).startswith("Dockerfile:7: ") and message in str(e.value)


@pytest.mark.parametrize("text, clean", [("a/b", "a/b"), ("./a//b/", "a/b"), ("/etc/x", "etc/x"), ("a/../b", "b"),
                                         (".", "")])
def test_sources_are_relative_to_the_context_root(text, clean):
    assert _clean(text) == clean


@pytest.mark.parametrize("text", ["../x", "a/../../x", "/.."])
def test_climbing_out_of_the_context_is_refused(text):
    with pytest.raises(BuildError, match="forbidden path outside the build context"):
        _clean(text)


def test_a_symlink_out_of_the_context_is_refused(tmp_path):
    (tmp_path / "ctx").mkdir()
    (tmp_path / "secret").write_text("no")
    os.symlink(str(tmp_path / "secret"), tmp_path / "ctx" / "link")
    os.symlink("../secret", tmp_path / "ctx" / "rel")
    (tmp_path / "ctx" / "ok").write_text("yes")
    os.symlink("ok", tmp_path / "ctx" / "good")
    ctx = BuildContext(str(tmp_path / "ctx"))
    for name in ("link", "rel"):
        with pytest.raises(BuildError, match="forbidden path outside the build context"):
            ctx.sources(name)
    (src,) = ctx.sources("good")
    assert open(src.path).read() == "yes"
    with pytest.raises(BuildError, match="not found in the build context"):
        ctx.sources("missing")
    with pytest.raises(BuildError, match="matches nothing"):
        ctx.sources("*.none")


def test_an_image_trees_symlinks_resolve_inside_it(tmp_path):
    (tmp_path / "usr" / "lib").mkdir(parents=True)
    (tmp_path / "usr" / "lib" / "app-1").write_text("app")
    (tmp_path / "usr" / "bin").mkdir()
    os.symlink("/usr/lib/app-1", tmp_path / "usr" / "bin" / "app")
    os.symlink("../../../../../usr/lib/app-1", tmp_path / "usr" / "bin" / "up")
    assert _resolve_in_root(str(tmp_path), "usr/bin/app", "app") == "usr/lib/app-1"
    assert _resolve_in_root(str(tmp_path), "usr/bin/up", "up") == "usr/lib/app-1"
    os.symlink("loop", tmp_path / "loop")
    with pytest.raises(BuildError, match="too many levels"):
        _resolve_in_root(str(tmp_path), "loop", "loop")
