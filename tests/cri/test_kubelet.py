"""A real kubelet drives `minictr cri` (acceptance 5 of the CRI issue): the
kubelet of ../shared/tools (v1.36), registered with the reference API
server on etcd, runs what kubectl 1.35 applies: the pod reaches Running,
`kubectl logs` reads its CRI log, a failing liveness probe (an exec probe:
ExecSync) restarts the container, `kubectl delete` is graceful and the
kubelet leaves no sandbox, container, netns or CNI address behind.

The kubelet sets three host sysctls at start (kubelet-notes.md): the
fixture records and restores them."""
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support import kube_tools  # noqa: E402

pytestmark = pytest.mark.root

POD = {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {
        "nodeName": "localhost", "automountServiceAccountToken": False, "terminationGracePeriodSeconds": 3,
        "dnsPolicy": "Default",
        "containers": [
            {"name": "web", "image": "busybox", "imagePullPolicy": "IfNotPresent",
             "command": ["sh", "-c", "echo serving; mkdir -p /www; echo hello-from-the-pod > /www/index.html; "
                                     "exec httpd -f -p 8080 -h /www"],
             "ports": [{"containerPort": 8080}]},
            {"name": "probed", "image": "busybox", "imagePullPolicy": "IfNotPresent",
             "command": ["sh", "-c", "touch /tmp/healthy; sleep 3; rm /tmp/healthy; exec sleep 600"],
             "livenessProbe": {"exec": {"command": ["test", "-f", "/tmp/healthy"]}, "initialDelaySeconds": 1,
                               "periodSeconds": 1, "failureThreshold": 1}},
        ],
    },
}


@pytest.fixture
def cluster(cri_server, crictl, tmp_path_factory):
    why = kube_tools.missing_for_control_plane()
    kubelet_bin, why_kubelet = kube_tools.unpacked("kubelet")
    kubectl_bin, why_kubectl = kube_tools.kubectl("1.35")
    for reason in (why, why_kubelet, why_kubectl):
        if reason:
            pytest.skip(reason)
    cri = cri_server(crictl_path=crictl)
    cri.crictl("pull", "busybox")
    workdir = Path(tmp_path_factory.mktemp("kube", numbered=True))
    control = kube_tools.ControlPlane(workdir / "control").start()
    kubelet = None
    try:
        kubelet = kube_tools.Kubelet(workdir / "kubelet", kubelet_bin, control, cri.socket).start()

        def kubectl(*args, check=True, timeout=60):
            res = subprocess.run([str(kubectl_bin), "--kubeconfig", str(control.kubeconfig), *args],
                                 capture_output=True, text=True, timeout=timeout)
            if check and res.returncode != 0:
                raise AssertionError(f"kubectl {' '.join(args)}: {res.stderr}\n--- kubelet:\n{kubelet.log}\n"
                                     f"--- cri:\n{cri.log[-3000:]}")
            return res
        yield cri, kubelet, kubectl
    finally:
        if kubelet is not None:
            kubelet.stop()
        control.stop()


def _node_ready(kubectl) -> bool:
    res = kubectl("get", "node", "localhost", "-o", "json", check=False)
    if res.returncode != 0:
        return False
    conditions = json.loads(res.stdout)["status"].get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _pod(kubectl) -> dict:
    return json.loads(kubectl("get", "pod", "web", "-o", "json").stdout)


def _restarts(pod: dict, name: str) -> int:
    return next((s["restartCount"] for s in pod["status"].get("containerStatuses", []) if s["name"] == name), 0)


def test_a_real_kubelet_runs_a_pod_on_minictr(cluster, tmp_path):
    cri, kubelet, kubectl = cluster
    assert kube_tools.wait_until(lambda: _node_ready(kubectl), 60), kubelet.log
    node = json.loads(kubectl("get", "node", "localhost", "-o", "json").stdout)
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("minictr://")
    kubectl("create", "serviceaccount", "default", check=False)   # no controller manager here
    manifest = tmp_path / "pod.json"
    manifest.write_text(json.dumps(POD))
    kubectl("apply", "-f", str(manifest))

    running = kube_tools.wait_until(lambda: _pod(kubectl)["status"].get("phase") == "Running", 90)
    assert running, (_pod(kubectl)["status"], kubelet.log, cri.log[-3000:])
    pod = _pod(kubectl)
    assert pod["status"]["podIP"].startswith(cri.network.prefix), pod["status"]
    assert kube_tools.wait_until(lambda: "serving" in kubectl("logs", "web", "-c", "web", check=False).stdout, 30)

    # the liveness probe fails after ~3 s: the kubelet kills and restarts the container
    assert kube_tools.wait_until(lambda: _restarts(_pod(kubectl), "probed") >= 1, 60), _pod(kubectl)["status"]
    events = kubectl("get", "events", "--field-selector", "involvedObject.name=web", "-o", "json").stdout
    assert "Liveness probe failed" in events or "Unhealthy" in events
    assert _restarts(_pod(kubectl), "web") == 0

    # graceful delete: TERM, the grace period, then the kubelet removes what it made
    started = time.monotonic()
    kubectl("delete", "pod", "web", "--wait=true", timeout=120)
    assert time.monotonic() - started < 60
    assert kube_tools.wait_until(lambda: cri.crictl("ps", "-q").stdout.strip() == "", 30)
    gone = kube_tools.wait_until(lambda: cri.crictl("pods", "--state", "ready", "-q").stdout.strip() == "", 30)
    assert gone, cri.crictl("pods").stdout
    assert kube_tools.wait_until(lambda: not cri.network.allocations() and not cri.network.netns.names(), 30), (
        cri.network.allocations(), cri.network.netns.names())
