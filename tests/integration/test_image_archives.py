"""Acceptance 6 of the images issue, round trips with independent tools:
`minictr push` read back by skopeo; `minictr save` loaded by podman and by a
private dockerd; `minictr load` of what podman save, docker save, skopeo and
minictr itself write (docker archives and OCI layouts)."""
import json
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from support import engines
from support.engine_cli import MinictrCLI
from support.layers import tree, tree_differences

pytestmark = pytest.mark.root


def _need(*tools):
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (apt install podman docker.io skopeo)")


@pytest.fixture
def cli(tmp_path, seeded_registry):
    c = MinictrCLI(tmp_path / "minictr", mirrors={"docker.io": [seeded_registry.url]})
    c("pull", "busybox", check=True)
    return c


@pytest.fixture(scope="module")
def podman(tmp_path_factory):
    _need("podman", "conmon")
    # podman refuses a runroot path over 50 characters: pytest's are longer
    engine, cleanup = engines.podman(Path(tempfile.mkdtemp(prefix="mctr-podman-")), "runc")
    try:
        yield engine
    finally:
        cleanup()


@pytest.fixture(scope="module")
def docker(tmp_path_factory):
    _need("dockerd", "containerd", "skopeo")
    tmp = tmp_path_factory.mktemp("docker-archives")
    daemon = engines.Dockerd(tmp, shutil.which("runc") or "runc")
    try:
        yield daemon.start()
    finally:
        daemon.stop()
        engines.unmount_under(tmp)
        shutil.rmtree(tmp, ignore_errors=True)


def _skopeo(*args, **kw):
    return subprocess.run(["skopeo", *args], check=True, capture_output=True, text=True, timeout=120, **kw)


def test_push_then_skopeo_reads_it(cli, seeded_registry, tmp_path):
    repo = f"{seeded_registry.address}/roundtrip-{uuid.uuid4().hex[:8]}/busybox"
    cli("tag", "busybox", f"{repo}:v1", check=True)
    res = cli("push", f"{repo}:v1", check=True)
    ours = cli.inspect("busybox")
    assert f"The push refers to repository [{repo}]" in res.stdout
    manifest_digest = ours["Descriptor"]["digest"]
    assert f"v1: digest: {manifest_digest}" in res.stdout
    raw = _skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{repo}:v1").stdout
    assert json.loads(raw)["config"]["digest"] == ours["Id"]
    _skopeo("copy", "--src-tls-verify=false", f"docker://{repo}:v1", f"oci:{tmp_path / 'copy'}:v1")
    again = cli("push", f"{repo}:v1", check=True)
    assert "Layer already exists" in again.stdout


def test_push_mounts_across_repositories(tmp_path, seeded_registry):
    cli = MinictrCLI(tmp_path / "m")
    src = f"{seeded_registry.address}/library/alpine:3.20"
    cli("pull", src, check=True)
    dest = f"{seeded_registry.address}/mount-{uuid.uuid4().hex[:8]}/alpine:v1"
    cli("tag", src, dest, check=True)
    res = cli("push", dest, check=True)
    assert "Mounted from library/alpine" in res.stdout, res.stdout


def test_save_loads_in_podman(cli, podman, tmp_path):
    archive = tmp_path / "busybox.tar"
    cli("save", "-o", str(archive), "busybox", check=True)
    out = podman("load", "-i", str(archive)).stdout
    name = out.split("Loaded image:")[-1].strip()   # podman names archive tags localhost/...
    assert name.endswith("busybox:latest"), out
    ours = cli.inspect("busybox")
    theirs = json.loads(podman("image", "inspect", name).stdout)[0]
    assert theirs["Id"] == ours["Id"].split(":", 1)[1]
    podman("rmi", "-f", name)
    oci = tmp_path / "busybox-oci.tar"
    cli("save", "--format", "oci-archive", "-o", str(oci), "busybox", check=True)
    out = podman("load", "-i", str(oci)).stdout
    name = out.split("Loaded image:")[-1].strip()
    assert json.loads(podman("image", "inspect", name).stdout)[0]["Id"] == ours["Id"].split(":", 1)[1]
    assert podman("run", "--rm", "--network", "none", name, "echo", "from-minictr-save").stdout.strip() \
        == "from-minictr-save"


def test_save_loads_in_docker(cli, docker, tmp_path):
    archive = tmp_path / "busybox.tar"
    cli("save", "-o", str(archive), "busybox", check=True)
    res = docker("load", "-i", str(archive))
    assert "Loaded image: busybox:latest" in res.stdout
    ours = cli.inspect("busybox")
    assert docker("image", "inspect", "-f", "{{.Id}}", "busybox:latest").stdout.strip() == ours["Id"]


def test_load_what_podman_saves(cli, podman, tmp_path):
    for fmt in ("docker-archive", "oci-archive"):
        archive = tmp_path / f"podman-{fmt}.tar"
        podman("save", "--format", fmt, "-o", str(archive), engines.IMAGE)
        fresh = MinictrCLI(tmp_path / f"load-{fmt}")
        res = fresh("load", "-i", str(archive), check=True)
        assert "Loaded image" in res.stdout, res.stdout
        name = engines.IMAGE if fmt == "docker-archive" else res.stdout.split("Loaded image: ")[-1].strip()
        info = fresh.inspect(name)
        assert info["Config"]["Cmd"] == ["sh"]


def test_load_what_docker_saves(cli, docker, tmp_path):
    engines.docker_load_busybox(docker, tmp_path)
    archive = tmp_path / "docker-save.tar"
    docker("save", "-o", str(archive), engines.IMAGE)
    fresh = MinictrCLI(tmp_path / "load-docker")
    res = fresh("load", "-i", str(archive), check=True)
    assert f"Loaded image: {engines.IMAGE}" in res.stdout
    assert fresh.inspect(engines.IMAGE)["Id"] == docker("image", "inspect", "-f", "{{.Id}}",
                                                        engines.IMAGE).stdout.strip()


def test_save_load_roundtrip_keeps_digests_and_tree(cli, tmp_path):
    ours = cli.inspect("busybox")
    for fmt in ("docker-archive", "oci-archive", "oci-dir"):
        out = tmp_path / f"rt-{fmt}"
        cli("save", "--format", fmt, "-o", str(out), "busybox", check=True)
        fresh = MinictrCLI(tmp_path / f"fresh-{fmt}")
        with open(out, "rb") if fmt != "oci-dir" else open("/dev/null", "rb") as f:
            res = fresh("load", *(["-i", str(out)] if fmt == "oci-dir" else []),
                        stdin=None if fmt == "oci-dir" else f, check=True)
        assert "Loaded image: busybox:latest" in res.stdout, (fmt, res.stdout)
        info = fresh.inspect("busybox")
        assert info["Id"] == ours["Id"]
        if fmt != "docker-archive":  # OCI layouts keep the very manifest
            assert info["Descriptor"]["digest"] == ours["Descriptor"]["digest"]
        a = tree(info["GraphDriver"]["Data"]["UpperDir"], mtimes=False)
        b = tree(ours["GraphDriver"]["Data"]["UpperDir"], mtimes=False)
        assert a == b, tree_differences(a, b)


def test_load_skopeo_layout_dir_and_compressed_archive(tmp_path):
    from support.bundles import BUSYBOX_LAYOUT
    fresh = MinictrCLI(tmp_path / "fresh")
    res = fresh("load", "-i", str(BUSYBOX_LAYOUT), check=True)
    assert "Loaded image" in res.stdout
    archive = tmp_path / "bb.tar"
    _skopeo("copy", f"oci:{BUSYBOX_LAYOUT}", f"docker-archive:{archive}:example.com/bb:gz")
    subprocess.run(["gzip", "-1", str(archive)], check=True)
    res = fresh("load", "-i", f"{archive}.gz", check=True)
    assert "Loaded image: example.com/bb:gz" in res.stdout


@pytest.mark.parametrize("content, message", [
    (b"", "empty input"),
    (b"not a tar at all" * 100, "not a valid image archive"),
])
def test_load_bad_input(tmp_path, content, message):
    bad = tmp_path / "bad.tar"
    bad.write_bytes(content)
    fresh = MinictrCLI(tmp_path / "fresh")
    res = fresh("load", "-i", str(bad))
    assert res.returncode != 0 and message in res.stderr, res.stderr
    assert fresh("images", "-q", check=True).stdout == ""
