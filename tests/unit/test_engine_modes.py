"""Namespace modes and container statuses: one parser each, docker's
words for what it refuses."""
import pytest

from minictr.engine import modes, status
from minictr.engine.errors import EngineError, InvalidOption


@pytest.mark.parametrize("flag, text, kind, target", [
    ("network", "bridge", modes.BRIDGE, ""), ("network", "default", modes.BRIDGE, ""),
    ("network", "", modes.BRIDGE, ""), ("network", "none", modes.NONE, ""), ("network", "host", modes.HOST, ""),
    ("network", "container:web", modes.CONTAINER, "web"), ("network", "appnet", modes.NAMED, "appnet"),
    ("ipc", "", modes.PRIVATE, ""), ("ipc", "private", modes.PRIVATE, ""), ("ipc", "shareable", modes.SHAREABLE, ""),
    ("ipc", "none", modes.NONE, ""), ("ipc", "host", modes.HOST, ""), ("ipc", "container:db", modes.CONTAINER, "db"),
    ("pid", "host", modes.HOST, ""), ("pid", "container:1234abcd", modes.CONTAINER, "1234abcd"),
    ("uts", "host", modes.HOST, ""), ("uts", "ns:/proc/42/ns/uts", modes.PATH, "/proc/42/ns/uts"),
])
def test_modes_parse(flag, text, kind, target):
    mode = modes.parse(flag, text)
    assert (mode.kind, mode.target) == (kind, target)
    assert mode.joins == (kind == modes.CONTAINER)
    assert mode.private == (kind not in (modes.HOST, modes.CONTAINER, modes.PATH))


@pytest.mark.parametrize("flag, text, message", [
    ("ipc", "bogus", "--ipc: invalid IPC mode"), ("pid", "private2", "--pid: invalid PID mode"),
    ("pid", "shareable", "--pid: invalid PID mode"), ("uts", "none", "--uts: invalid UTS mode"),
    ("ipc", "container:", "--ipc: container: needs a container name or ID"),
    ("network", "container:", "--network: container: needs a container name or ID"),
    ("pid", "ns:relative/path", "--pid: ns: needs an absolute path"),
    ("ipc", "container\n:x", "--ipc: invalid IPC mode"),
])
def test_bad_modes_name_the_flag(flag, text, message):
    with pytest.raises(InvalidOption, match=message.replace("(", r"\(")):
        modes.parse(flag, text)


def test_modes_are_records_not_strings():
    assert modes.parse("ipc", "container:x") == modes.Mode("container", "x")
    with pytest.raises(AttributeError):
        modes.parse("ipc", "host").kind = "private"


def test_status_parser():
    assert status.parse("running") == status.RUNNING
    assert status.LIVE < status.ACTIVE and status.RESTARTING in status.ACTIVE
    for bad in ("Running", "up", "", "exited "):
        with pytest.raises(EngineError, match="invalid container status"):
            status.parse(bad)
