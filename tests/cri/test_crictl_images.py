"""What a user of crictl sees of `minictr cri`: version, info, and the
image commands (pull, images, inspecti, rmi, imagefsinfo), with the values
containerd 1.6 gives for the same images from the same registry (checked
side by side: ids, repo digests, sizes)."""
import json
import os

import pytest

pytestmark = pytest.mark.root

BUSYBOX_ID = "sha256:c6348fa86ba0fb2108c9334f5fe913ddc6d853313e655891f133a0127c30099f"
BUSYBOX_MANIFEST = "sha256:1cfa4e2b09e127b9c4ed43578d3f3c18e7d44ea47b9ea98475c0cbe9086525f8"
BUSYBOX_SIZE = 2227396   # manifest + config + layer, as containerd reports it
HELLO_ID = "sha256:b23a8f6569ae9ae331226205fa72f480ce5310707d0bc97e611f83fbbbde4604"
HELLO_SIZE = 3539


def test_version_names_the_runtime(cri):
    out = cri.crictl("version").stdout
    assert "RuntimeName:  minictr" in out
    assert "RuntimeApiVersion:  v1" in out
    assert "Version:  0.1.0" in out


def test_info_reports_conditions_and_config(cri):
    info = cri.crictl_json("info")
    conditions = {c["type"]: c for c in info["status"]["conditions"]}
    assert conditions["RuntimeReady"]["status"] is True
    assert conditions["NetworkReady"]["status"] is True   # the test's private CNI network: config and plugins there
    assert info["config"]["rootDir"] == str(cri.root)
    assert info["config"]["cgroupDriver"] == "cgroupfs"
    assert info["config"]["registry"]["mirrors"]["docker.io"]


def test_network_ready_follows_the_cni_config(cri_server, crictl):
    """An empty conf dir gets the default conflist (as an install writes
    one); one naming a plugin that does not exist is NetworkReady false,
    with containerd's reason, until it is fixed."""
    server = cri_server(crictl_path=crictl, network=False)
    written = json.loads((server.cni_conf_dir / "10-minictr.conflist").read_text())
    assert [p["type"] for p in written["plugins"]] == ["bridge", "portmap", "loopback"]
    (server.cni_conf_dir / "00-broken.conflist").write_text(json.dumps(
        {"cniVersion": "1.0.0", "name": "broken", "plugins": [{"type": "no-such-plugin"}]}))
    conditions = {c["type"]: c for c in server.crictl_json("info")["status"]["conditions"]}
    network = conditions["NetworkReady"]
    assert network["status"] is False and network["reason"] == "NetworkPluginNotReady"
    assert "no-such-plugin" in network["message"]
    (server.cni_conf_dir / "00-broken.conflist").unlink()
    conditions = {c["type"]: c for c in server.crictl_json("info")["status"]["conditions"]}
    assert conditions["NetworkReady"]["status"] is True


def test_pull_then_images_lists_them(cri, cri_registry):
    out = cri.crictl("pull", "busybox").stdout
    assert out.strip() == f"Image is up to date for {BUSYBOX_ID}"
    cri.crictl("pull", "docker.io/library/hello-world:latest")
    rows = [line.split() for line in cri.crictl("images").stdout.splitlines()]
    assert rows[0] == ["IMAGE", "TAG", "IMAGE", "ID", "SIZE"]
    assert ["docker.io/library/busybox", "latest", BUSYBOX_ID[7:20], "2.23MB"] in rows
    assert ["docker.io/library/hello-world", "latest", HELLO_ID[7:20], "3.54kB"] in rows
    assert set(cri.crictl("images", "-q").stdout.split()) == {BUSYBOX_ID, HELLO_ID}

    listed = {i["id"]: i for i in cri.crictl_json("images", "-o", "json")["images"]}
    busybox = listed[BUSYBOX_ID]
    assert busybox["repoTags"] == ["docker.io/library/busybox:latest"]
    assert busybox["repoDigests"] == [f"docker.io/library/busybox@{BUSYBOX_MANIFEST}"]
    assert busybox["size"] == str(BUSYBOX_SIZE)
    assert busybox["username"] == "" and busybox["pinned"] is False and "uid" not in busybox
    assert listed[HELLO_ID]["size"] == str(HELLO_SIZE)
    # the filter: only the image named
    assert cri.crictl("images", "-q", "busybox").stdout.split() == [BUSYBOX_ID]


def test_registry_k8s_io_goes_to_its_mirror_and_tags_share_the_image(cri):
    cri.crictl("pull", "busybox")
    out = cri.crictl("pull", "registry.k8s.io/pause:3.9").stdout
    assert BUSYBOX_ID in out
    status = cri.crictl_json("inspecti", "registry.k8s.io/pause:3.9")["status"]
    assert status["repoTags"] == ["docker.io/library/busybox:latest", "registry.k8s.io/pause:3.9"]
    assert "registry.k8s.io/pause@" + BUSYBOX_MANIFEST in status["repoDigests"]


def test_inspecti_shows_status_and_config(cri):
    cri.crictl("pull", "busybox")
    for name in ("busybox", "docker.io/library/busybox:latest", BUSYBOX_ID, BUSYBOX_ID[7:19],
                 f"busybox@{BUSYBOX_MANIFEST}"):
        doc = cri.crictl_json("inspecti", name)
        assert doc["status"]["id"] == BUSYBOX_ID, name
    info = doc["info"]
    assert info["chainID"] == "sha256:0958e0fef2d6a31e1325b8bfecd99dead933363682d69850a7606599023751bc"
    assert info["imageSpec"]["config"]["Cmd"] == ["sh"]
    assert info["imageSpec"]["rootfs"]["diff_ids"] == [info["chainID"]]


def test_inspecti_of_an_unknown_image_says_so(cri):
    res = cri.crictl("inspecti", "nosuch", check=False)
    assert res.returncode != 0
    assert 'no such image \\"nosuch\\" present' in res.stderr


def test_rmi_removes_every_name_and_the_files(cri):
    cri.crictl("pull", "busybox")
    cri.crictl("pull", "registry.k8s.io/pause:3.9")
    snapshots = cri.root / "snapshots"
    assert os.listdir(snapshots)
    res = cri.crictl("rmi", "busybox")
    assert "Deleted: docker.io/library/busybox:latest" in res.stdout
    assert "Deleted: registry.k8s.io/pause:3.9" in res.stdout
    assert cri.crictl("images", "-q").stdout.split() == []
    assert [d for d in os.listdir(snapshots) if not d.startswith(".")] == []
    res = cri.crictl("rmi", "busybox", check=False)   # crictl asks ImageStatus first
    assert res.returncode != 0 and "no such image busybox" in res.stderr


def test_imagefsinfo_is_the_stores_real_usage(cri):
    before = cri.crictl_json("imagefsinfo")["status"]["imageFilesystems"][0]
    cri.crictl("pull", "busybox")
    after = cri.crictl_json("imagefsinfo")["status"]["imageFilesystems"][0]
    assert after["fsId"]["mountpoint"] == str(cri.root / "snapshots")
    grown = int(after["usedBytes"]["value"]) - int(before["usedBytes"]["value"])
    # the compressed blob (2.2 MB) and the unpacked busybox (~1 MB of hard links) at least
    assert grown > BUSYBOX_SIZE
    assert int(after["inodesUsed"]["value"]) > int(before["inodesUsed"]["value"]) + 3
    du = _du(cri.root / "content", cri.root / "snapshots")
    assert int(after["usedBytes"]["value"]) == du


def _du(*paths) -> int:
    """Allocated bytes, each inode once, walking by hand (the test's own count)."""
    seen, total = set(), 0
    for top in paths:
        for dirpath, dirnames, filenames in os.walk(top):
            for name in [None] + dirnames + filenames:
                path = dirpath if name is None else os.path.join(dirpath, name)
                st = os.lstat(path)
                if (st.st_dev, st.st_ino) not in seen and not (name and name in dirnames):
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_blocks * 512
    return total


def test_images_json_is_what_grpc_says(cri):
    """crictl's JSON and the raw message agree (crictl adds nothing of its own)."""
    from minictr.cri.v1 import api_pb2 as pb
    cri.crictl("pull", "hello-world")
    raw = cri.images.ListImages(pb.ListImagesRequest(), timeout=10).images
    shown = cri.crictl_json("images", "-o", "json")["images"]
    assert [(i.id, list(i.repo_tags), i.size) for i in raw] == [
        (i["id"], i["repoTags"], int(i["size"])) for i in shown]
    assert json.dumps(shown)  # plain JSON
