"""minictr-runtime's own command-line parser: the forms engines use
(runtime-cli-surface.md) and clear errors for the rest."""
import pytest

from minictr.runtime.argv import UsageError, parse
from minictr.runtime.cli import GLOBAL_OPTS, VERBS


def p(*argv):
    return parse(list(argv), GLOBAL_OPTS, VERBS)


def test_docker_shim_global_flags_then_create():
    a = p("--root", "/run/x", "--log", "/t/log.json", "--log-format", "json", "create", "--bundle", "/t",
          "--pid-file", "/t/init.pid", "abc")
    assert (a.root, a.log, a.log_format, a.verb, a.bundle, a.pid_file, a.id) == \
        ("/run/x", "/t/log.json", "json", "create", "/t", "/t/init.pid", "abc")
    assert a.console_socket is None and a.preserve_fds == 0 and a.no_pivot is False


def test_equals_form_and_short_names():
    a = p("--root=/r", "run", "-b=/b", "-d", "--preserve-fds=2", "id1")
    assert (a.root, a.bundle, a.detach, a.preserve_fds, a.id) == ("/r", "/b", True, 2, "id1")


def test_podman_exec_process_file():
    a = p("exec", "--pid-file", "/p", "--process", "/proc.json", "--detach", "--tty",
          "--console-socket", "/s", "ID")
    assert (a.pid_file, a.process, a.detach, a.tty, a.console_socket, a.id, a.command) == \
        ("/p", "/proc.json", True, True, "/s", "ID", [])


def test_exec_command_keeps_its_own_flags():
    a = p("exec", "-e", "A=1", "-e", "B=2", "ID", "sh", "-c", "echo -n hi")
    assert a.env == ["A=1", "B=2"] and a.command == ["sh", "-c", "echo -n hi"]
    assert p("exec", "ID", "--", "ls", "-l").command == ["ls", "-l"]


def test_kill_signal_optional_and_numeric():
    assert p("kill", "ID", "9").signal == "9"
    assert p("kill", "ID").signal is None
    assert p("kill", "--all", "ID", "KILL").all is True


def test_ps_passes_the_rest_to_ps():
    a = p("ps", "--format", "json", "ID", "-ef")
    assert a.format == "json" and a.ps_args == ["-ef"]


@pytest.mark.parametrize("argv,message", [
    (["create"], "create: missing id"),
    (["create", "--bogus", "x"], "create: unknown flag --bogus"),
    (["create", "--pid-file"], "create: --pid-file needs a value"),
    (["run", "--preserve-fds", "two", "x"], "run: --preserve-fds needs an integer (got 'two')"),
    (["--log-format", "xml", "state", "x"], "--log-format must be one of text, json (got 'xml')"),
    (["state", "a", "b"], "state: unexpected argument 'b'"),
    (["frobnicate"], "unknown command 'frobnicate'"),
    (["delete", "--force=yes", "x"], "delete: --force takes no value"),
])
def test_usage_errors_name_the_problem(argv, message):
    with pytest.raises(UsageError) as e:
        p(*argv)
    assert message in str(e.value)
