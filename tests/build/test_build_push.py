"""A built image is an image like a pulled one: it pushes to a registry
(Debian's docker-registry on 127.0.0.1), and what comes back from there
runs the same."""
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.registry import Registry  # noqa: E402

pytestmark = pytest.mark.root


@pytest.fixture
def registry(tmp_path):
    if not shutil.which("docker-registry"):
        pytest.skip("docker-registry is not installed (apt install docker-registry)")
    reg = Registry(tmp_path / "registry", "anonymous").start()
    try:
        yield reg
    finally:
        reg.stop()


def test_a_built_image_pushes_and_pulls_back(mc, context, registry):
    ctx = context("FROM busybox\nCOPY msg /msg\nRUN echo built >> /msg\nCMD [\"cat\", \"/msg\"]\n", {"msg": "hi\n"})
    name = f"{registry.address}/built/app:1"
    res = mc("build", "--network", "none", "-t", name, str(ctx), timeout=300)
    assert res.returncode == 0, res.stderr
    built = mc.inspect(name)["Id"]
    assert mc("push", name, timeout=300).returncode == 0
    mc("rmi", name, check=True)
    mc("pull", name, check=True, timeout=300)
    assert mc.inspect(name)["Id"] == built, "the same config comes back"
    assert mc("run", "--rm", "--network", "none", name, check=True, timeout=60).stdout == "hi\nbuilt\n"


def test_a_zstd_image_pushes_as_oci_and_pulls_back(mc, context, registry):
    import json
    import urllib.request
    ctx = context("FROM busybox\nCOPY msg /msg\nCMD [\"cat\", \"/msg\"]\n", {"msg": "zstd over the wire\n"})
    name = f"{registry.address}/built/zstd:1"
    res = mc("build", "--pull", "never", "--compression", "zstd", "-t", name, str(ctx), timeout=300)
    assert res.returncode == 0, res.stderr
    built = mc.inspect(name)["Id"]
    assert mc("push", name, timeout=300).returncode == 0
    oci = "application/vnd.oci.image.manifest.v1+json"
    request = urllib.request.Request(f"{registry.url}/v2/built/zstd/manifests/1", headers={"Accept": oci})
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # 127.0.0.1, never a proxy
    with direct.open(request, timeout=30) as response:
        assert response.headers["Content-Type"] == oci
        manifest = json.loads(response.read())
    assert manifest["layers"][-1]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+zstd"
    assert registry.blob_path(manifest["layers"][-1]["digest"]).read_bytes()[:4] == b"\x28\xb5\x2f\xfd"
    mc("rmi", name, check=True)
    mc("pull", name, check=True, timeout=300)
    assert mc.inspect(name)["Id"] == built, "the same config comes back"
    assert mc("run", "--rm", "--network", "none", name, check=True, timeout=60).stdout == "zstd over the wire\n"
