"""A pod's containers share localhost and IPC; a hostPort on 127.0.0.1
reaches the pod (CNI's portmap) and is gone with the pod (acceptance 2)."""
import os
import socket
import urllib.request

import pytest

from test_crictl_pods import container_json, pod_json, wait_for

pytestmark = pytest.mark.root


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode()
    except OSError:
        return ""


def test_containers_share_localhost_and_ipc_and_a_host_port_reaches_the_pod(cri, tmp_path):
    cri.crictl("pull", "busybox")
    port = _free_port()
    pod = pod_json(tmp_path, "netpod", port_mappings=[{"container_port": 80, "host_port": port,
                                                       "host_ip": "127.0.0.1"}])
    pod_id = cri.crictl("runp", str(pod)).stdout.strip()
    web = container_json(tmp_path, "web", ["sh", "-c", "mkdir -p /www; echo served-by-web > /www/index.html; "
                                                       "echo from-web > /dev/shm/note; exec httpd -f -p 80 -h /www"])
    web_id = cri.crictl("create", pod_id, str(web), str(pod)).stdout.strip()
    cri.crictl("start", web_id)
    client = container_json(tmp_path, "client", ["sleep", "300"])
    client_id = cri.crictl("create", pod_id, str(client), str(pod)).stdout.strip()
    cri.crictl("start", client_id)

    got = wait_for(lambda: "served-by-web" in (out := cri.crictl(
        "exec", "-s", client_id, "wget", "-qO-", "http://127.0.0.1/", check=False).stdout) and out)
    assert got, "the client container does not reach the web container over localhost"
    # one IPC namespace: POSIX shared memory (/dev/shm) written by one is read by the other
    assert cri.crictl("exec", "-s", client_id, "cat", "/dev/shm/note").stdout.split() == ["from-web"]
    ns = [os.readlink(f"/proc/{cri.crictl_json('inspect', c)['info']['pid']}/ns/ipc") for c in (web_id, client_id)]
    assert ns[0] == ns[1] != os.readlink("/proc/self/ns/ipc")
    assert wait_for(lambda: "served-by-web" in _get(f"http://127.0.0.1:{port}/")), "hostPort unanswered"

    cri.crictl("rm", "-f", web_id, client_id)
    cri.crictl("stopp", pod_id)
    assert _get(f"http://127.0.0.1:{port}/") == ""
    cri.crictl("rmp", pod_id)
