"""Layer unpack and snapshots on real images and generated layers, as root:
trees equal to umoci's (and GNU tar's) for the same blobs, overlayfs
whiteouts checked through a real overlay mount, snapshots crash-safe."""
import gzip
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.bundles import SHARED_IMAGES  # noqa: E402
from support.layers import (blob, chardev, diff_id, directory, file, gzipped, hardlink, layout_manifest,  # noqa: E402
                            member, symlink, tar_bytes, tree, tree_differences, umoci_unpack)

from minictr.image.errors import LayerError  # noqa: E402
from minictr.image.layer_stream import open_layer  # noqa: E402
from minictr.image.snapshots import Mount, Snapshots, SnapshotError  # noqa: E402
from minictr.image.unpack import HardlinkTargetMissing, unpack_layer  # noqa: E402
from minictr.oci.image_config import chain_ids  # noqa: E402

pytestmark = pytest.mark.root

BUSYBOX = sorted((SHARED_IMAGES / "busybox").glob("*.oci"))
ALPINE_TGZ = SHARED_IMAGES / "alpine" / "alpine-minirootfs-3.20.3-x86_64.tar.gz"
GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def unpack_bytes(data: bytes, dest: Path, **kw):
    """Unpack a tar, or a gzipped one (found by its magic)."""
    dest.mkdir(parents=True, exist_ok=True)
    return unpack_layer(open_layer(io.BytesIO(data)), dest, **kw)


def unpack_blob(path: Path, dest: Path, media_type: str = GZIP_LAYER, **kw):
    dest.mkdir(parents=True, exist_ok=True)
    with open(path, "rb") as f:
        return unpack_layer(open_layer(f, media_type), dest, **kw)


def require(*tools):
    for tool in tools:
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed")


# -- real images against umoci -------------------------------------------------
@pytest.mark.parametrize("layout", BUSYBOX, ids=lambda p: p.name)
def test_busybox_tree_equals_umocis(layout, tmp_path):
    require("umoci")
    index = json.loads((layout / "index.json").read_text())
    tag = index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]
    manifest = layout_manifest(layout)
    config = json.loads(blob(layout, manifest["config"]["digest"]).read_text())
    ours = tmp_path / "ours"
    for i, layer in enumerate(manifest["layers"]):
        res = unpack_blob(blob(layout, layer["digest"]), ours, layer["mediaType"], layer=layer["digest"])
        assert res.diff_id == config["rootfs"]["diff_ids"][i]
        assert res.entries > 400 and res.bytes % 512 == 0
    theirs = umoci_unpack(layout, tag, tmp_path / "bundle")
    a, b = tree(ours), tree(theirs)
    assert not tree_differences(a, b)
    assert a["bin/[["][5] > 100  # busybox's applets are hard links of one file


@pytest.fixture(scope="session")
def alpine_layout(tmp_path_factory):
    """The alpine minirootfs as a one-layer OCI image made by umoci."""
    require("umoci")
    work = tmp_path_factory.mktemp("alpine")
    tar = work / "rootfs.tar"
    tar.write_bytes(gzip.decompress(ALPINE_TGZ.read_bytes()))
    layout = work / "layout"
    subprocess.run(["umoci", "init", "--layout", str(layout)], check=True)
    subprocess.run(["umoci", "new", "--image", f"{layout}:3.20"], check=True)
    subprocess.run(["umoci", "raw", "add-layer", "--image", f"{layout}:3.20", str(tar)], check=True)
    return layout


def test_alpine_tree_equals_umocis(alpine_layout, tmp_path):
    layer = layout_manifest(alpine_layout)["layers"][0]
    ours = tmp_path / "ours"
    res = unpack_blob(blob(alpine_layout, layer["digest"]), ours, layer["mediaType"])
    assert res.diff_id == "sha256:1bccf10afce5c1ffe31381419930ad565c1436eaeb1ca680494b0663e0028419"
    assert res.entries == 518
    theirs = umoci_unpack(alpine_layout, "3.20", tmp_path / "bundle")
    a = tree(ours)
    assert not tree_differences(a, tree(theirs))
    absolute = [p for p, sig in a.items() if stat.S_ISLNK(sig[0]) and sig[4].startswith("/")]
    assert len(absolute) == 310
    assert os.readlink(ours / "bin/chown") == "/bin/busybox"
    assert stat.S_IMODE(os.lstat(ours / "tmp").st_mode) == 0o1777


def test_alpine_from_the_upstream_tarball_equals_gnu_tar(tmp_path):
    ours, theirs = tmp_path / "ours", tmp_path / "tar"
    unpack_blob(ALPINE_TGZ, ours, "")   # no media type: gzip found by its magic
    theirs.mkdir()
    subprocess.run(["tar", "-xzf", str(ALPINE_TGZ), "-C", str(theirs), "--numeric-owner"], check=True)
    assert not tree_differences(tree(ours), tree(theirs))


# -- what the tar format can say --------------------------------------------
def feature_members():
    long_dir = "d" * 120
    return [
        directory("./", mode=0o755),
        directory("etc", mode=0o750, uid=0, gid=42),
        file("etc/shadow", b"root:*:1::::::\n", mode=0o640, gid=42),
        file("usr/bin/su", b"\x7fELF-su", mode=0o4755),               # parent dirs left out
        file("usr/bin/wall", b"\x7fELF-wall", mode=0o2755, gid=5),
        directory("tmp", mode=0o1777),
        directory("srv/shared", mode=0o2775, gid=100),
        file("srv/shared/inherits", b"x", uid=1000, gid=1000),           # gid must not follow the setgid dir
        file("home/user/.profile", b"PATH=/bin\n", uid=1000, gid=1000, mode=0o600),
        symlink("bin", "usr/bin"),
        symlink("usr/bin/abs", "/usr/bin/su"),
        symlink("dangling", "/nonexistent/x", uid=7, gid=8),
        hardlink("usr/bin/su-again", "usr/bin/su"),
        chardev("dev/null", 1, 3, mode=0o666),
        member("dev/sda", tarfile.BLKTYPE, major=8, minor=0, mode=0o660, gid=6),
        member("run/fifo", tarfile.FIFOTYPE, mode=0o620),
        file(f"{long_dir}/{'f' * 150}", b"long name"),                   # PAX path (tarfile)
        file("x" * 90 + "/" + "y" * 90, b"ustar prefix"),
        file("big-ids", b"u", uid=3_000_000, gid=2_500_000),
        file("empty", b"", mode=0o000),
        file("caps", b"ping", pax={"SCHILY.xattr.security.capability":
                                   "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"}),
        file("xattr", b"x", pax={"SCHILY.xattr.user.note": "hello", "SCHILY.xattr.trusted.k": "v",
                                 "SCHILY.xattr.trusted.overlay.redirect": "/elsewhere"}),
        file("frac-time", b"t", pax={"mtime": "1600000000.123456789"}),
        file("dup", b"first"),
        file("dup", b"second wins"),
        directory("was-file"),
        file("was-dir", b"now a file"),
    ]


def test_every_kind_of_entry_unpacks_as_gnu_tar_does(tmp_path):
    members = feature_members()
    members.insert(-3, file("was-file", b"replaced by a dir below"))
    members.insert(-1, directory("was-dir"))
    members.insert(-1, file("was-dir/child", b"gone with its dir"))
    data = tar_bytes(members)
    ours, theirs = tmp_path / "ours", tmp_path / "tar"
    res = unpack_bytes(data, ours)
    assert res.diff_id == diff_id(data)
    theirs.mkdir()
    subprocess.run(["tar", "-xf", "-", "-C", str(theirs), "--numeric-owner", "--xattrs",
                    "--xattrs-include=*", "--overwrite", "--recursive-unlink"], input=data, check=True)
    assert not tree_differences(tree(ours, mtimes=False), tree(theirs, mtimes=False))
    # mtimes too, except for directories the layer left out (made now) and '.', which GNU tar leaves
    a, b = tree(ours), tree(theirs)
    assert {p: a[p] for p in a if not stat.S_ISDIR(a[p][0])} == {p: b[p] for p in b if not stat.S_ISDIR(b[p][0])}
    assert all(a[p] == b[p] for p in ("etc", "tmp", "srv/shared", "was-file"))
    # what a tree walk does not show
    assert os.getxattr(ours / "xattr", "user.note") == b"hello"
    assert os.getxattr(ours / "xattr", "trusted.k") == b"v"
    assert os.getxattr(ours / "caps", "security.capability")[:4] == b"\x01\x00\x00\x02"
    assert "trusted.overlay.redirect" not in os.listxattr(ours / "xattr")   # overlayfs' own: not from a tar
    assert os.lstat(ours / "frac-time").st_mtime_ns == 1_600_000_000_123_456_789
    assert os.lstat(ours / "etc").st_mtime == 1_600_000_000            # set after its contents
    st = os.lstat(ours / "dev/sda")
    assert stat.S_ISBLK(st.st_mode) and os.major(st.st_rdev) == 8
    assert os.lstat(ours / "usr/bin/su").st_ino == os.lstat(ours / "usr/bin/su-again").st_ino


def test_gnu_format_long_names_and_base256_numbers(tmp_path):
    members = [file("n" * 200, b"gnu longname"), symlink("l", "t" * 300),
               hardlink("h" * 150, "n" * 200), file("big-uid", b"x", uid=0o7777777 + 5)]
    data = tar_bytes(members, fmt=tarfile.GNU_FORMAT)
    assert b"././@LongLink" in data and b"\x80" in data
    res = unpack_bytes(data, tmp_path / "r")
    assert res.entries == 4
    assert (tmp_path / "r" / ("n" * 200)).read_bytes() == b"gnu longname"
    assert os.readlink(tmp_path / "r" / "l") == "t" * 300
    assert os.lstat(tmp_path / "r" / ("h" * 150)).st_nlink == 2
    assert os.lstat(tmp_path / "r" / "big-uid").st_uid == 0o7777777 + 5


def test_diff_id_covers_the_stream_to_its_end(tmp_path):
    data = tar_bytes([file("a", b"1")]) + b"\0" * 4096   # more padding than the end marker
    res = unpack_bytes(data, tmp_path / "r")
    assert res.diff_id == diff_id(data) and res.bytes == len(data)
    assert res.content_bytes == 1


def test_layer_without_root_entry_gets_a_0755_root(tmp_path):
    snaps = Snapshots(str(tmp_path / "snapshots"))
    data = tar_bytes([file("a", b"1")])
    path = snaps.prepare(diff_id(data), None, lambda d: unpack_bytes(data, Path(d)))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o755


def test_relative_symlink_inside_the_root_is_followed_for_a_parent(tmp_path):
    data = tar_bytes([directory("usr/lib"), symlink("lib", "usr/lib"), file("lib/libc.so", b"c"),
                      symlink("usr/lib64", "../usr/./lib"), file("usr/lib64/ld.so", b"ld")])
    unpack_bytes(data, tmp_path / "r")
    assert (tmp_path / "r/usr/lib/libc.so").read_bytes() == b"c"
    assert (tmp_path / "r/usr/lib/ld.so").read_bytes() == b"ld"
    assert os.path.islink(tmp_path / "r/lib")


def test_parallel_unpacks_match_sequential_ones(tmp_path):
    layers = [tar_bytes([directory(f"l{i}")] + [file(f"l{i}/f{j}", os.urandom(j * 97)) for j in range(300)])
              for i in range(4)]

    def unpack(i):
        dest = tmp_path / f"p{i}"
        dest.mkdir()
        return unpack_layer(open_layer(io.BytesIO(gzipped(layers[i])), GZIP_LAYER, read_ahead=True), dest)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(unpack, range(4)))
    for i, data in enumerate(layers):
        unpack_bytes(data, tmp_path / f"s{i}")
        assert results[i].diff_id == diff_id(data)
        parallel, sequential = tree(tmp_path / f"p{i}"), tree(tmp_path / f"s{i}")
        del parallel["."], sequential["."]   # no './' entry: the root's mtime is when it was written
        assert parallel == sequential


def test_truncated_gzip_layer_names_the_entry_and_layer(tmp_path):
    data = gzipped(tar_bytes([file("first", b"1"), file("second", os.urandom(300_000))]))
    with pytest.raises(LayerError, match=r"'second' in layer sha256:feed.*gzip data truncated") as err:
        unpack_bytes(data[:len(data) - 5000], tmp_path / "r", layer="sha256:feed")
    assert err.value.entry == "second"


# -- whiteouts, for real, through overlayfs ------------------------------------
def base_layer():
    return tar_bytes([
        directory("a"), file("a/keep", b"keep"), file("a/gone", b"gone"), directory("a/sub"), file("a/sub/x", b"x"),
        directory("opq"), file("opq/old1", b"old"), directory("opq/olddir"), file("opq/olddir/y", b"y"),
        directory("deep/dir"), file("deep/dir/file", b"f"), file("top", b"top"),
    ])


def whiteout_layer():
    return tar_bytes([
        directory("a"), file("a/.wh.gone"), file(".wh.deep"),
        directory("opq"), file("opq/.wh..wh..opq"), file("opq/new", b"new"),
        file("a/.wh..wh.plnk"),                       # aufs bookkeeping: ignored
    ])


def third_layer():
    return tar_bytes([file("a/gone", b"back again"), file("opq/newer", b"newer")])


def mounted(path: Path) -> bool:
    """By mountinfo: os.path.ismount misses a bind mount within one filesystem."""
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == str(path) for line in f)


@pytest.fixture
def overlay_target(tmp_path):
    target = tmp_path / "merged"
    target.mkdir()
    try:
        yield target
    finally:
        for _ in range(5):
            if not mounted(target):
                break
            subprocess.run(["umount", str(target)], check=False)
        assert not mounted(target)


def mount(m: Mount, target: Path) -> None:
    if m.type == "bind":
        subprocess.run(["mount", "--bind", "-o", "ro", m.source, str(target)], check=True)
    else:
        subprocess.run(["mount", "-t", m.type, m.source, "-o", ",".join(m.options), str(target)], check=True)


def prepare_all(snaps: Snapshots, layers: list[bytes]) -> list[str]:
    chains = chain_ids([diff_id(t) for t in layers])
    for i, data in enumerate(layers):
        snaps.prepare(chains[i], chains[i - 1] if i else None,
                      lambda d, data=data: unpack_bytes(gzipped(data), Path(d)))
    return chains


def test_whiteouts_and_opaque_dirs_hide_lower_content_in_overlayfs(tmp_path, overlay_target):
    snaps = Snapshots(str(tmp_path / "snapshots"))
    chains = prepare_all(snaps, [base_layer(), whiteout_layer()])
    top = Path(snaps.path(chains[1]))
    st = os.lstat(top / "a/gone")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(top / "opq", "trusted.overlay.opaque") == b"y"
    assert not (top / "a/.wh..wh.plnk").exists() and not (top / "a/.wh.gone").exists()
    upper, work = tmp_path / "upper", tmp_path / "work"
    upper.mkdir()
    work.mkdir()
    [m] = snaps.mounts(chains, str(upper), str(work))
    assert m.options[-1] == f"lowerdir={top}:{snaps.path(chains[0])}"
    mount(m, overlay_target)
    assert (overlay_target / "a/keep").read_bytes() == b"keep"
    assert not (overlay_target / "a/gone").exists()
    assert not (overlay_target / "deep").exists()
    assert sorted(os.listdir(overlay_target / "opq")) == ["new"]
    assert (overlay_target / "top").exists() and (overlay_target / "a/sub/x").exists()


def test_whiteouts_in_a_middle_layer_of_a_read_only_view(tmp_path, overlay_target):
    snaps = Snapshots(str(tmp_path / "snapshots"))
    chains = prepare_all(snaps, [base_layer(), whiteout_layer(), third_layer()])
    [m] = snaps.mounts(chains)
    assert m.type == "overlay" and len(m.options) == 1
    mount(m, overlay_target)
    assert (overlay_target / "a/gone").read_bytes() == b"back again"
    assert sorted(os.listdir(overlay_target / "opq")) == ["new", "newer"]
    assert not (overlay_target / "deep").exists()


def test_single_layer_view_is_a_read_only_bind(tmp_path, overlay_target):
    snaps = Snapshots(str(tmp_path / "snapshots"))
    chains = prepare_all(snaps, [base_layer()])
    [m] = snaps.mounts(chains)
    assert m == Mount("bind", snaps.path(chains[0]), ["ro", "rbind"])
    assert m.as_oci("/") == {"destination": "/", "type": "bind", "source": m.source, "options": ["ro", "rbind"]}
    mount(m, overlay_target)
    assert (overlay_target / "a/gone").read_bytes() == b"gone"


# -- hard links into lower layers ---------------------------------------------
def test_hardlink_to_a_file_of_a_lower_layer_is_copied_up(tmp_path):
    snaps = Snapshots(str(tmp_path / "snapshots"))
    lower = tar_bytes([file("usr/bin/tool", b"binary", mode=0o4711, uid=3, gid=4),
                       symlink("usr/bin/sl", "/etc/x"), file("gone", b"g")])
    middle = tar_bytes([file(".wh.gone")])
    upper = tar_bytes([hardlink("usr/bin/tool2", "usr/bin/tool"), hardlink("usr/bin/tool3", "usr/bin/tool"),
                       hardlink("sl2", "usr/bin/sl")])
    chains = prepare_all(snaps, [lower, middle])
    top = tmp_path / "top"
    unpack_bytes(upper, top, parents=snaps.lowerdirs(chains))
    st = os.lstat(top / "usr/bin/tool2")
    assert (top / "usr/bin/tool2").read_bytes() == b"binary"
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o4711, 3, 4)
    assert st.st_ino == os.lstat(top / "usr/bin/tool3").st_ino      # later links share the copy
    assert os.readlink(top / "sl2") == "/etc/x"
    assert not (top / "usr/bin/tool").exists()                       # only the link's name is added
    with pytest.raises(HardlinkTargetMissing, match="'h'.*'gone' is not in this layer or below"):
        unpack_bytes(tar_bytes([hardlink("h", "gone")]), tmp_path / "top2", parents=snaps.lowerdirs(chains))


# -- snapshots -------------------------------------------------------------------
def test_snapshot_prepare_list_chain_lowerdirs_remove(tmp_path):
    snaps = Snapshots(str(tmp_path / "snapshots"))
    chains = prepare_all(snaps, [base_layer(), whiteout_layer(), third_layer()])
    assert snaps.list() == sorted(chains)
    assert all(snaps.exists(c) for c in chains)
    assert snaps.chain(chains[2]) == chains
    assert snaps.parent(chains[0]) is None and snaps.parent(chains[1]) == chains[0]
    assert snaps.lowerdirs(chains) == [snaps.path(c) for c in reversed(chains)]
    assert snaps.remove(chains[2]) and not snaps.exists(chains[2]) and not snaps.remove(chains[2])
    with pytest.raises(SnapshotError, match="no snapshot"):
        snaps.lowerdirs(chains)
    assert snaps.list() == sorted(chains[:2])
    assert [n for n in os.listdir(snaps.root) if n.startswith(".")] == []


def test_a_failed_fill_leaves_no_snapshot_and_no_temp_dir(tmp_path):
    snaps = Snapshots(str(tmp_path / "snapshots"))
    bad = tar_bytes([file("ok", b"1"), file("../escape", b"2")])
    with pytest.raises(LayerError, match="'../escape'"):
        snaps.prepare(diff_id(bad), None, lambda d: unpack_bytes(bad, Path(d)))
    assert not snaps.exists(diff_id(bad)) and snaps.list() == []
    assert os.listdir(snaps.root) == []


def test_a_killed_unpack_leaves_only_a_temp_dir_that_prune_removes(tmp_path):
    root = tmp_path / "snapshots"
    chain = diff_id(b"killed")
    code = (f"import os, signal\nfrom minictr.image.snapshots import Snapshots\n"
            f"def fill(d):\n    open(os.path.join(d, 'half'), 'w').write('x')\n"
            f"    os.kill(os.getpid(), signal.SIGKILL)\n"
            f"Snapshots({str(root)!r}).prepare({chain!r}, None, fill)\n")
    proc = subprocess.run([sys.executable, "-c", code])
    assert proc.returncode == -9
    snaps = Snapshots(str(root))
    assert not snaps.exists(chain) and snaps.list() == []
    [left] = os.listdir(root)
    assert left.startswith(".tmp-")
    assert snaps.prune_temp() == [str(root / left)]
    assert os.listdir(root) == []


def test_prune_temp_spares_a_snapshot_being_filled(tmp_path):
    snaps = Snapshots(str(tmp_path / "snapshots"))
    filling, release = threading.Event(), threading.Event()

    def fill(d):
        Path(d, "file").write_bytes(b"1")
        filling.set()
        release.wait(10)

    chain = diff_id(b"slow")
    with ThreadPoolExecutor(1) as pool:
        job = pool.submit(snaps.prepare, chain, None, fill)
        assert filling.wait(10)
        assert snaps.prune_temp() == []
        release.set()
        assert job.result() == snaps.path(chain)
    assert (Path(snaps.path(chain)) / "file").read_bytes() == b"1"


def test_concurrent_preparers_of_one_chain_both_succeed(tmp_path):
    snaps = Snapshots(str(tmp_path / "snapshots"))
    data = tar_bytes([file(f"f{i}", os.urandom(1000)) for i in range(200)])
    chain = diff_id(data)
    both_in = threading.Barrier(2)

    def fill(d):
        both_in.wait(10)   # both are unpacking at once: neither saw the other's snapshot
        unpack_bytes(data, Path(d))

    with ThreadPoolExecutor(2) as pool:
        paths = [job.result() for job in [pool.submit(snaps.prepare, chain, None, fill) for _ in range(2)]]
    assert paths == [snaps.path(chain)] * 2
    assert snaps.list() == [chain] and len(os.listdir(snaps.path(chain))) == 200
    assert os.listdir(snaps.root) == [os.path.basename(os.path.dirname(snaps.path(chain)))]


def test_prepare_of_an_existing_snapshot_does_not_fill(tmp_path):
    snaps = Snapshots(str(tmp_path / "snapshots"))
    chains = prepare_all(snaps, [base_layer()])
    assert snaps.prepare(chains[0], None, lambda d: pytest.fail("filled twice")) == snaps.path(chains[0])


def test_mount_descriptions_refuse_what_overlayfs_cannot_parse(tmp_path):
    snaps = Snapshots(str(tmp_path / "snap:shots"))
    chains = prepare_all(snaps, [base_layer(), third_layer()])
    with pytest.raises(SnapshotError, match="cannot hold ':'"):
        snaps.mounts(chains)
    with pytest.raises(SnapshotError, match="bad chain ID"):
        snaps.exists("sha256:nothex")
