"""A pod's and its containers' security context and namespace options as
a user checks them from inside: run as user/group with supplemental
groups, a read-only rootfs, capabilities dropped and added, no_new_privs,
seccomp RuntimeDefault / Unconfined / Localhost, sysctls and DNS from the
sandbox config, and the host's network and PID namespaces when asked."""
import json
import os

import pytest

from test_crictl_pods import container_json, pod_json

pytestmark = pytest.mark.root


def _run(cri, tmp_path, pod_id, pod, name, command, **extra) -> str:
    ctr = cri.crictl("create", pod_id, str(container_json(tmp_path, name, command, **extra)), str(pod)).stdout.strip()
    cri.crictl("start", ctr)
    return ctr


def _status_line(cri, ctr, key) -> str:
    text = cri.crictl("exec", "-s", ctr, "cat", "/proc/self/status").stdout
    return next(l.split(":", 1)[1].strip() for l in text.splitlines() if l.startswith(key + ":"))


def test_security_context_sysctls_and_dns(cri, tmp_path):
    cri.crictl("pull", "busybox")
    profile = tmp_path / "deny-mkdir.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW",
                                   "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}))
    pod = pod_json(tmp_path, "secpod", dns_config={"servers": ["10.96.0.10"], "searches": ["ns1.svc.test"],
                                                   "options": ["ndots:5"]},
                   linux={"sysctls": {"net.ipv4.ip_unprivileged_port_start": "0"},
                          "security_context": {"namespace_options": {"pid": 1}}})
    pod_id = cri.crictl("runp", str(pod)).stdout.strip()
    user = _run(cri, tmp_path, pod_id, pod, "user", ["sleep", "300"],
                linux={"security_context": {"run_as_user": {"value": 1000}, "run_as_group": {"value": 2000},
                                            "supplemental_groups": [3000], "readonly_rootfs": True,
                                            "no_new_privs": True,
                                            "capabilities": {"drop_capabilities": ["ALL"],
                                                             "add_capabilities": ["NET_BIND_SERVICE"]}}})
    assert cri.crictl("exec", "-s", user, "id").stdout.split()[:2] == ["uid=1000", "gid=2000"]
    assert "3000" in cri.crictl("exec", "-s", user, "id", "-G").stdout.split()
    res = cri.crictl("exec", "-s", user, "touch", "/x", check=False)
    assert res.returncode != 0 and "Read-only file system" in res.stderr
    assert _status_line(cri, user, "NoNewPrivs") == "1"
    # as non-root the exec keeps no effective capability; the bounding set is what was asked
    assert int(_status_line(cri, user, "CapBnd"), 16) == 1 << 10        # CAP_NET_BIND_SERVICE only
    assert _status_line(cri, user, "Seccomp") == "2"                    # RuntimeDefault
    assert cri.crictl("exec", "-s", user, "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start").stdout.split() \
        == ["0"]
    resolv = cri.crictl("exec", "-s", user, "cat", "/etc/resolv.conf").stdout
    assert "nameserver 10.96.0.10" in resolv and "search ns1.svc.test" in resolv and "options ndots:5" in resolv

    free = _run(cri, tmp_path, pod_id, pod, "free", ["sleep", "300"],
                linux={"security_context": {"seccomp": {"profile_type": 1}}})
    assert _status_line(cri, free, "Seccomp") == "0"                    # Unconfined
    local = _run(cri, tmp_path, pod_id, pod, "local", ["sleep", "300"],
                 linux={"security_context": {"seccomp": {"profile_type": 2, "localhost_ref": str(profile)}}})
    res = cri.crictl("exec", "-s", local, "mkdir", "/tmp/d", check=False)
    assert res.returncode != 0 and "Operation not permitted" in res.stderr
    assert cri.crictl("exec", "-s", free, "mkdir", "/tmp/d", check=False).returncode == 0
    for ctr in (user, free, local):
        cri.crictl("rm", "-f", ctr)
    cri.crictl("stopp", pod_id)
    cri.crictl("rmp", pod_id)


def test_host_network_and_pid_namespaces(cri, tmp_path):
    cri.crictl("pull", "busybox")
    pod = pod_json(tmp_path, "hostpod", linux={"security_context": {"namespace_options": {"network": 2, "pid": 2}}})
    pod_id = cri.crictl("runp", str(pod)).stdout.strip()
    assert not cri.network.netns.names() and not cri.network.allocations()   # no CNI for a host-network pod
    ctr = _run(cri, tmp_path, pod_id, pod, "c", ["sleep", "300"],
               linux={"security_context": {"namespace_options": {"network": 2, "pid": 2}}})
    pid = cri.crictl_json("inspect", ctr)["info"]["pid"]
    for kind in ("net", "pid"):
        assert os.readlink(f"/proc/{pid}/ns/{kind}") == os.readlink(f"/proc/self/ns/{kind}"), kind
    assert str(os.getpid()) in cri.crictl("exec", "-s", ctr, "ps", "-o", "pid").stdout.split()
    cri.crictl("rm", "-f", ctr)
    cri.crictl("stopp", pod_id)
    cri.crictl("rmp", pod_id)
