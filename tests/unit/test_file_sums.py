"""The context checksum cache (minictr/build/file_sums.py): a file whose
stat is unchanged is not read again, and every change a user can make is
seen: new bytes of the same size with the mtime forced back, a file
replaced by another (a new inode), a file written in the same clock tick
as it was read."""
import hashlib
import os
import time

import pytest

from minictr.build import file_sums
from minictr.build.file_sums import FileSums
from minictr.state import db


@pytest.fixture
def conn(tmp_path):
    c = db.connect(str(tmp_path / "state" / "minictr.db"))
    yield c
    c.close()


@pytest.fixture(scope="module")
def old_files(tmp_path_factory):
    """A context whose files' ctimes are more than a second old (not racy),
    made once: each test uses files of its own."""
    ctx = tmp_path_factory.mktemp("ctx")
    for name in ("a", "b", "c", "d", "e", "f", "g"):
        (ctx / name).write_text(f"{name * 4}\n")
    time.sleep(file_sums.RACY_NS / 1e9 + 0.05)
    return ctx


def sha(path) -> bytes:
    return hashlib.sha256(path.read_bytes()).digest()


def digest(conn, ctx, name):
    """One build's look-up and save, in a fresh FileSums as a new build has."""
    sums = FileSums(conn, str(ctx))
    path = str(ctx / name)
    got = sums.digest(path, os.lstat(path))
    sums.save()
    return got


class CountingOpen:
    def __init__(self, monkeypatch):
        self.paths = []
        real = open

        def counting(path, *a, **kw):
            self.paths.append(path)
            return real(path, *a, **kw)
        monkeypatch.setattr(file_sums, "open", counting, raising=False)


def test_an_unchanged_file_is_not_read_again(conn, old_files, monkeypatch):
    assert digest(conn, old_files, "a") == sha(old_files / "a")
    opened = CountingOpen(monkeypatch)
    assert digest(conn, old_files, "a") == sha(old_files / "a")
    assert opened.paths == []


def test_new_bytes_of_the_same_size_with_the_mtime_forced_back_are_seen(conn, old_files):
    path = old_files / "b"
    digest(conn, old_files, "b")
    before = os.stat(path)
    path.write_text("BBBB\n")   # the same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(path).st_mtime_ns == before.st_mtime_ns and os.stat(path).st_size == before.st_size
    assert digest(conn, old_files, "b") == sha(path)


def test_a_file_replaced_by_another_is_seen(conn, old_files):
    path = old_files / "c"
    digest(conn, old_files, "c")
    before = os.stat(path)
    other = old_files / "c.new"
    other.write_text("CCCC\n")
    os.utime(other, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.rename(other, path)
    assert digest(conn, old_files, "c") == sha(path)


def test_a_file_changed_in_the_tick_it_was_read_is_not_remembered(conn, tmp_path, monkeypatch):
    ctx = tmp_path / "fresh"
    ctx.mkdir()
    path = ctx / "f"
    path.write_text("one\n")
    assert digest(conn, ctx, "f") == sha(path)   # a ctime under a second old: hashed, not kept
    assert conn.execute("SELECT COUNT(*) FROM build_checksums").fetchone()[0] == 0
    st = os.stat(path)
    path.write_text("two\n")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert digest(conn, ctx, "f") == sha(path)


def test_a_file_whose_stat_changed_while_read_is_not_remembered(conn, old_files):
    path = str(old_files / "d")
    stale = os.lstat(path)
    (old_files / "d").write_text("dddd, longer now\n")
    sums = FileSums(conn, str(old_files))
    sums.digest(path, stale)
    sums.save()
    assert conn.execute("SELECT COUNT(*) FROM build_checksums").fetchone()[0] == 0


def test_files_outside_the_context_are_not_remembered(conn, old_files):
    sums = FileSums(conn, str(old_files / "sub"))
    path = str(old_files / "e")
    assert sums.digest(path, os.lstat(path)) == sha(old_files / "e")
    sums.save()
    assert conn.execute("SELECT COUNT(*) FROM build_checksums").fetchone()[0] == 0


def test_rows_of_files_that_are_gone_are_dropped(conn, old_files):
    digest(conn, old_files, "f")
    digest(conn, old_files, "g")
    os.unlink(old_files / "f")
    sums = FileSums(conn, str(old_files))
    sums.digest(str(old_files / "g"), os.lstat(old_files / "g"))
    sums.forget_missing()
    rows = [r[0] for r in conn.execute("SELECT path FROM build_checksums")]
    assert rows == [str(old_files / "g")]


def test_a_sibling_directory_with_the_same_prefix_is_not_the_context(conn, old_files):
    digest(conn, old_files, "a")
    sibling = FileSums(conn, str(old_files) + "x")
    assert sibling._rows() == {}
