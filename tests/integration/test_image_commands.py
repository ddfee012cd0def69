"""The image commands a user checks by eye, with docker's shapes: images,
tag, rmi (untag vs delete, conflicts), history, inspect, image prune."""
import json
import os

import pytest

from support.engine_cli import MinictrCLI

pytestmark = pytest.mark.root


@pytest.fixture
def cli(tmp_path, seeded_registry):
    c = MinictrCLI(tmp_path, mirrors={"docker.io": [seeded_registry.url]})
    c("pull", "busybox", check=True)
    return c


def _rows(cli, *args):
    lines = cli("images", *args, check=True).stdout.splitlines()
    return [line.split() for line in lines[1:]]


def test_tag_untag_and_delete_like_docker(cli, seeded_registry):
    info = cli.inspect("busybox")
    image_id = info["Id"]
    cli("tag", "busybox", "mybox:1", check=True)
    rows = _rows(cli)
    assert sorted((r[0], r[1]) for r in rows) == [("busybox", "latest"), ("mybox", "1")]
    assert len({r[2] for r in rows}) == 1

    res = cli("rmi", "mybox:1", check=True)
    assert res.stdout.splitlines() == ["Untagged: mybox:1"]
    assert cli.inspect("busybox")["Id"] == image_id

    layer_dirs = [info["GraphDriver"]["Data"]["UpperDir"]]
    res = cli("rmi", "busybox", check=True)
    lines = res.stdout.splitlines()
    digest = seeded_registry.images["library/busybox:latest"].digest
    assert lines[:3] == ["Untagged: busybox:latest", f"Untagged: busybox@{digest}", f"Deleted: {image_id}"]
    assert any(line.startswith("Deleted: sha256:") for line in lines[3:])
    assert _rows(cli) == []
    assert not any(os.path.exists(d) for d in layer_dirs)
    blobs = cli.root / "content" / "blobs" / "sha256"
    assert os.listdir(blobs) == [], "rmi must not leave the image's blobs behind"
    missing = cli("rmi", "busybox")
    assert missing.returncode == 1 and "No such image: busybox" in missing.stderr


def test_rmi_by_id_with_two_repositories_needs_force(cli):
    cli("tag", "busybox", "other/box:2", check=True)
    short = _rows(cli)[0][2]
    res = cli("rmi", short)
    assert res.returncode == 1
    assert f"unable to delete {short} (must be forced) - image is referenced in multiple repositories" in res.stderr
    res = cli("rmi", "-f", short, check=True)
    assert "Untagged: other/box:2" in res.stdout and "Untagged: busybox:latest" in res.stdout
    assert any(line.startswith("Deleted: ") for line in res.stdout.splitlines())


def test_image_in_use_is_kept(cli):
    """No containers exist yet (they come with the engine), so the lease a
    container will take is taken here through the library, as it will be."""
    from minictr.image.store import ImageStore
    with ImageStore(str(cli.root)) as store:
        image_id = store.records.lookup("busybox").id
        store.records.lease(image_id, "container:0123456789ab")
    res = cli("rmi", "busybox")
    assert res.returncode == 1 and "(must force)" in res.stderr and "container:0123456789ab" in res.stderr
    res = cli("rmi", "-f", "busybox", check=True)
    lines = res.stdout.splitlines()
    assert lines[0] == "Untagged: busybox:latest" and lines[1].startswith("Untagged: busybox@sha256:")
    assert not any(line.startswith("Deleted") for line in lines)
    rows = _rows(cli)
    assert rows and rows[0][:2] == ["<none>", "<none>"], "a forced rmi of an image in use only untags it"
    assert os.path.isdir(cli.inspect(image_id)["GraphDriver"]["Data"]["UpperDir"])
    cli("image", "prune", "-a", "-f", check=True)
    assert _rows(cli), "prune must leave an image a container uses"


def test_listing_options(cli, seeded_registry):
    digest = seeded_registry.images["library/busybox:latest"].digest
    rows = _rows(cli, "--digests")
    assert rows[0][:3] == ["busybox", "latest", digest]
    header = cli("images", "--digests", check=True).stdout.splitlines()[0].split()
    assert header == ["REPOSITORY", "TAG", "DIGEST", "IMAGE", "ID", "CREATED", "SIZE"]
    full = cli("images", "-q", "--no-trunc", check=True).stdout.strip()
    assert full == cli.inspect("busybox")["Id"]
    assert cli("images", "--filter", "dangling=true", "-q", check=True).stdout == ""
    assert cli("images", "busybox", "-q", check=True).stdout.strip() == full.split(":")[1][:12]
    assert cli("images", "nosuch", "-q", check=True).stdout == ""
    bad = cli("images", "--filter", "color=red")
    assert bad.returncode != 0 and "invalid filter 'color=red'" in bad.stderr


def test_history_and_inspect(cli):
    lines = cli("history", "busybox", check=True).stdout.splitlines()
    assert lines[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    info = cli.inspect("busybox")
    assert lines[1].split()[0] == info["Id"].split(":")[1][:12]
    assert len(lines) - 1 == len(json.loads(
        cli("history", "--format", "json", "busybox", check=True).stdout.replace("}\n{", "},{").join("[]")))
    assert cli("inspect", "-f", "{{.Config.Cmd}}", "busybox", check=True).stdout.strip() == "[sh]"
    assert cli("inspect", "-f", "{{json .RootFS.Type}}", "busybox", check=True).stdout.strip() == '"layers"'
    res = cli("inspect", "nosuch")
    assert res.returncode == 1 and "No such object: nosuch" in res.stderr and res.stdout.strip() == "[]"


def test_prune_all_reclaims(cli):
    res = cli("image", "prune", "-a", "-f", check=True)
    assert "Deleted Images:" in res.stdout and "untagged: busybox:latest" in res.stdout
    assert "Total reclaimed space:" in res.stdout
    assert _rows(cli) == []
    assert os.listdir(cli.root / "content" / "blobs" / "sha256") == []
    assert [n for n in os.listdir(cli.root / "snapshots") if not n.startswith(".")] == []


@pytest.mark.parametrize("args, message", [
    (("pull", "Busybox"), "must be lowercase"),
    (("pull", "busybox:latest@sha256:123"), "invalid reference format"),
    (("pull", "--platform", "linux", "busybox"), "invalid platform"),
    (("tag", "busybox", "bad tag"), "invalid reference format"),
    (("tag", "nosuch", "x:1"), "No such image: nosuch"),
    (("pull", "nosuch/image"), "nosuch/image"),
])
def test_bad_input_one_clear_line(cli, args, message):
    res = cli(*args)
    assert res.returncode != 0
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and message in err[0], res.stderr
    assert "Traceback" not in res.stderr
