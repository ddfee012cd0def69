"""Hostile layers: every entry that would create or write anything outside
the snapshot root is refused with the entry named, and a canary directory
beside the root is byte-for-byte unchanged afterwards. Legitimate oddities
(long names, absolute symlinks, device nodes) still unpack."""
import io
import os
import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.layers import (chardev, diff_id, directory, file, hardlink, member, symlink, tar_bytes,  # noqa: E402
                            tree_digest)

from minictr.image.errors import LayerError  # noqa: E402
from minictr.image.layer_stream import open_layer  # noqa: E402
from minictr.image.snapshots import Snapshots  # noqa: E402
from minictr.image.unpack import unpack_layer  # noqa: E402

pytestmark = pytest.mark.root

UP = "../" * 12   # more than enough to climb from any test dir to /


@pytest.fixture
def place(tmp_path):
    """tmp/canary (a tree with a secret) beside tmp/snapshots; checks the
    canary is unchanged and nothing is left in the snapshots root."""
    canary = tmp_path / "canary"
    (canary / "sub").mkdir(parents=True)
    (canary / "secret").write_bytes(b"do not touch")
    (canary / "sub" / "file").write_bytes(b"nested")
    os.symlink("secret", canary / "link")
    before = tree_digest(canary)
    snaps = Snapshots(str(tmp_path / "snapshots"))
    yield snaps, canary
    assert tree_digest(canary) == before, "the canary directory changed"
    assert snaps.list() == [] and os.listdir(snaps.root) == [], "a refused layer left something behind"


def refuse(snaps: Snapshots, data: bytes, entry: str, reason: str) -> LayerError:
    with pytest.raises(LayerError) as err:
        snaps.prepare(diff_id(data), None,
                      lambda d: unpack_layer(open_layer(io.BytesIO(data)), d, layer="sha256:bad"))
    assert err.value.entry == entry, str(err.value)
    assert reason in err.value.reason, str(err.value)
    assert "in layer sha256:bad" in str(err.value)
    return err.value


def abs_in(canary: Path, name: str) -> str:
    return str(canary / name).lstrip("/")


def test_dotdot_traversal(place):
    snaps, canary = place
    refuse(snaps, tar_bytes([file("ok", b"1"), file(f"{UP}{abs_in(canary, 'pwned')}", b"x")]),
           f"{UP}{abs_in(canary, 'pwned')}", "'..' in member name")


def test_dotdot_inside_a_name(place):
    snaps, canary = place
    refuse(snaps, tar_bytes([directory("a"), file("a/../../canary/x", b"x")]), "a/../../canary/x", "'..'")


def test_absolute_member_name(place):
    snaps, canary = place
    name = str(canary / "pwned")
    refuse(snaps, tar_bytes([file(name, b"x")]), name, "absolute member name")


def test_absolute_directory_name(place):
    snaps, canary = place
    name = str(canary / "newdir")
    refuse(snaps, tar_bytes([directory(name)]), name + "/", "absolute member name")


def test_write_through_a_symlink_to_root(place):
    snaps, canary = place
    refuse(snaps, tar_bytes([symlink("evil", "/"), file(f"evil/{abs_in(canary, 'pwned')}", b"x")]),
           f"evil/{abs_in(canary, 'pwned')}", "leads outside the layer root")


def test_overwrite_through_a_symlink_to_an_outside_file(place):
    snaps, canary = place
    # the secret exists: a write through the link would clobber it
    refuse(snaps, tar_bytes([symlink("evil", str(canary)), file("evil/secret", b"clobbered")]),
           "evil/secret", "leads outside the layer root")


def test_write_through_a_relative_symlink_that_climbs_out(place):
    snaps, canary = place
    refuse(snaps, tar_bytes([symlink("evil", UP.rstrip("/")), file(f"evil/{abs_in(canary, 'pwned')}", b"x")]),
           f"evil/{abs_in(canary, 'pwned')}", "leads outside the layer root")


def test_write_through_a_symlink_one_level_up(place):
    snaps, canary = place
    refuse(snaps, tar_bytes([symlink("up", ".."), file("up/pwned", b"x")]), "up/pwned", "leads outside")


def test_directory_through_an_escaping_symlink(place):
    snaps, canary = place
    refuse(snaps, tar_bytes([symlink("evil", str(canary)), directory("evil/newdir")]), "evil/newdir/",
           "leads outside the layer root")


def test_symlink_chain_that_escapes_at_its_end(place):
    snaps, canary = place
    refuse(snaps, tar_bytes([directory("a"), symlink("a/b", "../c"), symlink("c", f"{UP}{abs_in(canary, '')}"),
                             file("a/b/pwned", b"x")]), "a/b/pwned", "leads outside the layer root")


def test_symlink_loop_in_a_parent(place):
    snaps, canary = place
    refuse(snaps, tar_bytes([symlink("a", "b"), symlink("b", "a"), file("a/x", b"x")]), "a/x",
           "does not lead to a directory inside the layer")


def test_directory_replaced_by_an_escaping_symlink_then_written_through(place):
    snaps, canary = place
    # the unpacker had 'd' open as a directory: the cached fd must not outlive the replacement
    refuse(snaps, tar_bytes([directory("d"), file("d/a", b"1"), symlink("d", str(canary)), file("d/pwned", b"x")]),
           "d/pwned", "leads outside the layer root")


def test_hardlink_to_an_absolute_path(place):
    snaps, canary = place
    refuse(snaps, tar_bytes([hardlink("passwd", "/etc/passwd")]), "passwd", "absolute hard link target")


def test_hardlink_to_a_path_outside(place):
    snaps, canary = place
    refuse(snaps, tar_bytes([hardlink("h", "../outside")]), "h", "'..' in hard link target")
    refuse(snaps, tar_bytes([hardlink("h", f"{UP}{abs_in(canary, 'secret')}")]), "h", "'..' in hard link target")


def test_hardlink_through_an_escaping_symlink(place):
    snaps, canary = place
    refuse(snaps, tar_bytes([symlink("esc", str(canary)), hardlink("h", "esc/secret")]), "h",
           "leads outside the layer root")


def test_hardlink_to_a_directory(place):
    snaps, canary = place
    refuse(snaps, tar_bytes([directory("d"), hardlink("h", "d")]), "h", "hard link to a directory")


def test_whiteout_of_dotdot(place):
    snaps, canary = place
    refuse(snaps, tar_bytes([directory("a"), file("a/.wh..."), file(".wh.x")]), "a/.wh...", "whiteout of nothing")


def test_file_replacing_the_root(place):
    snaps, canary = place
    refuse(snaps, tar_bytes([symlink(".", "/")]), ".", "replace the layer root")


def test_path_longer_than_path_max(place):
    snaps, canary = place
    name = "/".join(["c" * 200] * 25)    # 5024 bytes, in a PAX header
    err = refuse(snaps, tar_bytes([file(name, b"x")]), name, "longer than PATH_MAX")
    assert "...(5024 bytes)" in str(err)  # the message shows a shortened name


def test_component_longer_than_name_max(place):
    snaps, canary = place
    name = "dir/" + "n" * 300
    refuse(snaps, tar_bytes([file(name, b"x")]), name, "longer than NAME_MAX")


def test_nul_byte_in_a_pax_path(place):
    snaps, canary = place
    data = tar_bytes([file("innocent", b"x", pax={"path": "evil\0name"})])
    refuse(snaps, data, "evil\0name", "NUL byte")


def test_truncated_tar(place):
    snaps, canary = place
    data = tar_bytes([file("first", b"1"), file("second", os.urandom(20_000))])
    refuse(snaps, data[:512 * 3 + 5000], "second", "tar data truncated")


def test_tar_cut_inside_a_header(place):
    snaps, canary = place
    data = tar_bytes([file("first", b"1"), file("second", b"2")])
    refuse(snaps, data[:512 * 2 + 100], "first", "truncated")


def test_corrupt_header_checksum(place):
    snaps, canary = place
    data = bytearray(tar_bytes([file("first", b"1"), file("second", b"2")]))
    data[1024 + 3] ^= 0x01      # the second header's name: 'second' -> 'secnnd'
    refuse(snaps, bytes(data), "secnnd", "checksum mismatch at byte offset 1024")


def test_pax_header_too_large_to_be_a_name(place):
    snaps, canary = place
    info = tarfile.TarInfo("x")
    info.type = tarfile.XHDTYPE
    info.size = 1 << 30
    header = info.tobuf(tarfile.USTAR_FORMAT)
    refuse(snaps, header + b"\0" * 4096, "x", "extended header of 1073741824 bytes is too large")


def test_malformed_pax_record(place):
    snaps, canary = place
    info = tarfile.TarInfo("./PaxHeaders/f")
    info.type = tarfile.XHDTYPE
    payload = b"99 path=f\n"
    info.size = len(payload)
    data = info.tobuf(tarfile.USTAR_FORMAT) + payload + b"\0" * (512 - len(payload)) + \
        tar_bytes([file("f", b"1")], fmt=tarfile.USTAR_FORMAT)
    refuse(snaps, data, "./PaxHeaders/f", "malformed PAX extended header")


def test_unsupported_entry_type(place):
    snaps, canary = place
    refuse(snaps, tar_bytes([member("sparse", tarfile.GNUTYPE_SPARSE, b"")], fmt=tarfile.GNU_FORMAT),
           "sparse", "sparse")


def test_unknown_entry_type(place):
    snaps, canary = place
    refuse(snaps, tar_bytes([member("weird", b"Q", b"")]), "weird", "unsupported tar entry type")


# -- legitimate layers that look odd -------------------------------------------
def test_legitimate_oddities_unpack(place, tmp_path):
    snaps, canary = place
    long_ustar = "p" * 99 + "/" + "q" * 99            # fits ustar's prefix + name
    long_pax = "l" * 150 + "/" + "m" * 200            # only PAX can carry it
    data = tar_bytes([
        file(long_ustar, b"ustar"), file(long_pax, b"pax"),
        symlink("abs", "/etc/passwd"), symlink("root", "/"), symlink("up", "../../.."),
        chardev("dev/null", 1, 3, mode=0o666), chardev("dev/zero", 1, 5, mode=0o666),
        symlink("lib", "usr/lib"), directory("usr/lib"), file("lib/inside", b"followed, stays in"),
        symlink("abs", "/"), file("abs", b"a file replaces the link itself"),
        hardlink("hl", "up"),   # a hard link to a symlink links the symlink, follows nothing
    ])
    path = Path(snaps.prepare(diff_id(data), None, lambda d: unpack_layer(io.BytesIO(data), d)))
    try:
        assert (path / long_ustar).read_bytes() == b"ustar" and (path / long_pax).read_bytes() == b"pax"
        assert os.readlink(path / "root") == "/" and os.readlink(path / "up") == "../../.."
        assert os.major(os.lstat(path / "dev/zero").st_rdev) == 1
        assert (path / "usr/lib/inside").read_bytes() == b"followed, stays in"
        assert (path / "abs").read_bytes() == b"a file replaces the link itself"
        assert os.readlink(path / "hl") == "../../.."
    finally:
        snaps.remove(diff_id(data))
