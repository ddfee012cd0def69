"""The tar writer (image/tar_writer.py) makes the headers of plain entries
itself: its bytes must be exactly Python tarfile's (mode "w|", PAX), for
those and for every entry it leaves to tarfile, so a layer's diff_id does
not depend on which path wrote it."""
import io
import tarfile

import pytest

from minictr.image import tar_writer
from minictr.image.tar_writer import BLK, CHR, DIR, FIFO, FILE, HARDLINK, SYMLINK, Node, tar_info, write_tar


def file_node(name, data: bytes, **kw):
    node = Node(name, FILE, size=len(data), **kw)
    node.opener = lambda: io.BytesIO(data)
    return node


NODES = [
    lambda: Node("etc", DIR, 0o755, mtime_ns=1_700_000_000_123_456_789),
    lambda: Node("etc/", DIR, 0o1777),
    lambda: file_node("etc/hosts", b"127.0.0.1 localhost\n", mode=0o644, mtime_ns=10**18),
    lambda: file_node("empty", b""),
    lambda: file_node("block", b"x" * 512),
    lambda: file_node("big", bytes(range(256)) * 700, mode=0o4755, uid=1000, gid=1000),
    lambda: Node("link", SYMLINK, 0o777, linkname="/etc/hosts"),
    lambda: Node("hard", HARDLINK, 0o644, linkname="etc/hosts"),
    lambda: Node("dev/null", CHR, 0o666, rdev=(1, 3)),
    lambda: Node("dev/sda", BLK, 0o660, rdev=(8, 0)),
    lambda: Node("fifo", FIFO, 0o600),
    lambda: Node("n" * 99, DIR),                                  # 100 with its "/"
    lambda: Node("n" * 100, DIR),                                 # 101: a PAX path
    lambda: file_node("m" * 100, b"hundred"),
    lambda: file_node("m" * 101, b"long"),
    lambda: Node("l", SYMLINK, linkname="t" * 100),
    lambda: Node("l2", SYMLINK, linkname="t" * 101),
    lambda: file_node("caf\u00e9", b"utf-8 name"),
    lambda: file_node("bad\udcff", b"surrogate-escaped name"),
    lambda: file_node("uid", b"", uid=0o7777777, gid=0o7777777),
    lambda: file_node("uid-big", b"", uid=0o10000000),
    lambda: file_node("old", b"", mtime_ns=-1_000_000_000),
    lambda: file_node("future", b"", mtime_ns=8 ** 11 * 10**9),
    lambda: file_node("xattr", b"", xattrs={b"user.k": b"v"}),
]


def by_tarfile(nodes) -> bytes:
    """What write_tar wrote before it made headers itself: tarfile's stream."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for node in nodes:
            info = tar_info(node)
            if node.kind == FILE:
                tar.addfile(info, node.open())
            else:
                tar.addfile(info)
    return out.getvalue()


def ours(nodes) -> bytes:
    out = io.BytesIO()
    write_tar(nodes, out)
    return out.getvalue()


@pytest.mark.parametrize("make", NODES, ids=[str(i) for i in range(len(NODES))])
def test_each_entry_is_written_as_tarfile_writes_it(make):
    assert ours([make()]) == by_tarfile([make()])


def test_a_whole_tree_is_written_as_tarfile_writes_it():
    assert ours([m() for m in NODES]) == by_tarfile([m() for m in NODES])
    many = [file_node(f"files/f{i:04d}.txt", f"file {i}\n".encode()) for i in range(300)]
    assert ours(many) == by_tarfile(many)


def test_an_empty_tree_is_the_end_marker_in_one_record():
    assert ours([]) == by_tarfile([]) == bytes(tar_writer.RECORD)


def test_a_file_that_changed_size_while_read_gives_the_size_its_header_says():
    shrank = Node("shrank", FILE, size=10)
    shrank.opener = lambda: io.BytesIO(b"abc")
    grew = Node("grew", FILE, size=2)
    grew.opener = lambda: io.BytesIO(b"abcdef")
    with tarfile.open(fileobj=io.BytesIO(ours([shrank, grew]))) as tar:
        assert tar.extractfile("shrank").read() == b"abc" + bytes(7)
        assert tar.extractfile("grew").read() == b"ab"


def test_a_device_number_too_big_fails_as_with_tarfile():
    huge = Node("dev/huge", CHR, rdev=(0o10000000, 1))
    with pytest.raises(ValueError):
        by_tarfile([huge])
    with pytest.raises(ValueError):
        ours([huge])


def test_plain_entries_do_not_go_through_tarfile(monkeypatch):
    def refuse(*a, **kw):
        raise AssertionError("tarfile made a header")
    monkeypatch.setattr(tarfile.TarInfo, "tobuf", refuse)
    ours([m() for m in NODES[:11]])
