"""Acceptance 1, 2 and 4 of the images issue: `minictr pull` through the
registry-mirror setting from a real local registry (docker.io points at it,
fallback off), compared with what skopeo + umoci make of the same image."""
import json
import os
import subprocess

import pytest

from support.engine_cli import MinictrCLI
from support.layers import tree, tree_differences, umoci_unpack

pytestmark = pytest.mark.root


@pytest.fixture
def cli(tmp_path, seeded_registry):
    return MinictrCLI(tmp_path, mirrors={"docker.io": [seeded_registry.url]})


def _merged_tree(cli: MinictrCLI, name: str, mountpoint) -> dict:
    """The image's layers stacked by overlayfs, as a container would see them."""
    info = cli.inspect(name)
    lowers = [info["GraphDriver"]["Data"]["UpperDir"]]
    if info["GraphDriver"]["Data"].get("LowerDir"):
        lowers += info["GraphDriver"]["Data"]["LowerDir"].split(":")
    os.makedirs(mountpoint, exist_ok=True)
    if len(lowers) == 1:
        return tree(lowers[0], mtimes=False)
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={':'.join(lowers)}", str(mountpoint)],
                   check=True)
    try:
        return tree(mountpoint, mtimes=False)
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


def _reference_tree(registry, name: str, work) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    layout = work / "layout"
    subprocess.run(["skopeo", "copy", "--src-tls-verify=false", f"docker://{registry.address}/{name}",
                    f"oci:{layout}:ref"], check=True, capture_output=True)
    rootfs = umoci_unpack(layout, "ref", work / "bundle")
    return tree(rootfs, mtimes=False)


def test_pull_busybox_through_mirror_equals_skopeo_umoci(cli, seeded_registry, tmp_path):
    res = cli("pull", "busybox", check=True)
    lines = res.stdout.strip().splitlines()
    image = seeded_registry.images["library/busybox:latest"]
    assert lines[0] == "latest: Pulling from library/busybox"
    assert f"Digest: {image.digest}" in lines
    assert "Status: Downloaded newer image for busybox:latest" in lines
    assert lines[-1] == "docker.io/library/busybox:latest"
    ours = _merged_tree(cli, "busybox", tmp_path / "mnt")
    ours.pop(".")
    theirs = _reference_tree(seeded_registry, "library/busybox:latest", tmp_path / "ref")
    theirs.pop(".")
    assert ours == theirs, tree_differences(ours, theirs)
    info = cli.inspect("busybox")
    assert info["Config"]["Cmd"] == ["sh"]
    assert any(e.startswith("PATH=") for e in info["Config"]["Env"])
    assert info["Architecture"] == "amd64" and info["RepoTags"] == ["busybox:latest"]
    assert info["RepoDigests"] == [f"busybox@{image.digest}"]
    again = cli("pull", "busybox", check=True)
    assert "Status: Image is up to date for busybox:latest" in again.stdout


def test_images_lists_like_docker(cli):
    cli("pull", "busybox", check=True)
    out = cli("images", check=True).stdout.splitlines()
    assert out[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    row = out[1].split()
    assert row[:2] == ["busybox", "latest"] and len(row[2]) == 12
    info = cli.inspect("busybox")
    assert info["Id"].split(":")[1].startswith(row[2])
    assert cli("images", "-q", check=True).stdout.split() == [row[2]]
    rows = [json.loads(line) for line in cli("images", "--format", "json", check=True).stdout.splitlines()]
    assert rows[0]["Repository"] == "busybox" and rows[0]["Tag"] == "latest"


def test_platform_selection(cli, seeded_registry):
    cli("pull", "--platform", "linux/arm64", "busybox", check=True)
    info = cli.inspect("busybox")
    assert info["Architecture"] == "arm64"
    res = cli("pull", "--platform", "linux/s390x", "busybox")
    assert res.returncode != 0
    assert "no matching manifest for linux/s390x" in res.stderr and "linux/amd64" in res.stderr
    cli("pull", "busybox", check=True)
    assert cli.inspect("busybox")["Architecture"] == "amd64"


@pytest.mark.parametrize("name", ["library/busybox:1.38", "library/busybox:amd64-only", "library/alpine:3.20",
                                  "library/hello-world:latest", "test/whiteouts:latest"])
def test_every_seeded_kind_pulls_and_matches(cli, seeded_registry, tmp_path, name):
    short = name.removeprefix("library/")
    cli("pull", short, check=True)
    ours = _merged_tree(cli, short, tmp_path / "mnt")
    theirs = _reference_tree(seeded_registry, name, tmp_path / "ref")
    ours.pop(".")
    theirs.pop(".")
    assert ours == theirs, tree_differences(ours, theirs)
