"""The server process: its socket, a clean stop on SIGTERM and SIGINT
(socket gone, exit 0), a live server's socket never taken over, a stale
one replaced, bad flags refused in one line."""
import os
import signal
import subprocess

import pytest

from minictr.cri.v1 import api_pb2 as pb
from support.cri_server import VENV_BIN

pytestmark = pytest.mark.root


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_it_cleanly(cri_server, signum):
    server = cri_server()
    assert oct(os.stat(server.socket).st_mode & 0o777) == "0o660"
    assert server.runtime.Version(pb.VersionRequest(), timeout=10).runtime_api_version == "v1"
    assert server.signal(signum) == 0
    assert not server.socket.exists()
    log = server.log
    assert f"{signal.Signals(signum).name}: stopping" in log and "removed" in log
    assert "Traceback" not in log


def test_a_live_servers_socket_is_not_taken_over(cri_server, tmp_path):
    first = cri_server()
    res = subprocess.run([str(VENV_BIN / "minictr"), "--root", str(tmp_path / "root2"), "cri",
                          "--listen", str(first.socket)], env=first.env, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 1
    assert res.stderr.strip().splitlines()[-1] == (
        f"Error: --listen {first.socket}: another server is listening on this socket")
    assert first.runtime.Version(pb.VersionRequest(), timeout=10).runtime_name == "minictr"


def test_a_stale_socket_is_replaced(cri_server):
    server = cri_server()
    server.signal(signal.SIGKILL)
    assert server.socket.is_socket() and not server.answers()   # what a killed server leaves
    server.start()
    assert server.runtime.Version(pb.VersionRequest(), timeout=10).runtime_name == "minictr"


@pytest.mark.parametrize("flags, message", [
    (["--streaming-addr", "localhost"], "--streaming-addr 'localhost': expected IP:PORT"),
    (["--streaming-addr", "127.0.0.1:99999"], "--streaming-addr '127.0.0.1:99999': expected IP:PORT"),
    (["--listen", "/tmp/" + "x" * 120], "longer than the 107 bytes"),
])
def test_bad_flags_are_one_line(tmp_path, flags, message):
    env = {"PATH": os.environ["PATH"], "MINICTR_REGISTRIES_CONF": "/dev/null", "HOME": str(tmp_path)}
    args = [str(VENV_BIN / "minictr"), "--root", str(tmp_path / "root"), "cri"]
    if "--listen" not in flags:
        args += ["--listen", str(tmp_path / "cri.sock")]
    res = subprocess.run(args + flags, env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert res.stderr.count("\n") == 1 and message in res.stderr, res.stderr


def test_streaming_address_is_reported(cri_server):
    server = cri_server("--streaming-addr", "127.0.0.1:10010")
    info = server.runtime.Status(pb.StatusRequest(verbose=True), timeout=10).info
    assert '"streamServerAddress": "127.0.0.1"' in info["config"]
    assert '"streamServerPort": "10010"' in info["config"]
    assert server.runtime.RuntimeConfig(pb.RuntimeConfigRequest(), timeout=10).linux.cgroup_driver == pb.CGROUPFS
