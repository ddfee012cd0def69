"""Image records in SQLite, looked up the way docker resolves names."""
import pytest

from minictr.image.errors import NotFound
from minictr.image.records import AmbiguousImage, ImageRecords, LayerRecord
from minictr.state import db

A = "sha256:" + "ab" * 32
B = "sha256:" + "ac" * 32
M = "sha256:" + "11" * 32
L = LayerRecord("sha256:" + "22" * 32, "sha256:" + "22" * 32, "sha256:" + "33" * 32,
                "application/vnd.oci.image.layer.v1.tar+gzip", 100)


@pytest.fixture
def records(tmp_path):
    return ImageRecords(db.connect(str(tmp_path / "minictr.db")))


def test_lookup_by_tag_digest_and_id(records):
    records.add(A, M, "application/vnd.oci.image.manifest.v1+json", "2026-01-01T00:00:00Z", [L],
                tag="docker.io/library/busybox:latest", repo_digest=("docker.io/library/busybox", M))
    assert records.lookup("busybox").id == A
    assert records.lookup("docker.io/library/busybox:latest").id == A
    assert records.lookup(f"busybox@{M}").id == A
    assert records.lookup(A).id == A
    assert records.lookup("abab").id == A
    rec = records.get(A)
    assert rec.tags == ["docker.io/library/busybox:latest"] and rec.size == 100
    assert rec.repo_digests == [f"docker.io/library/busybox@{M}"] and rec.short_id == "ab" * 6
    with pytest.raises(NotFound, match="No such image: busybox:2"):
        records.lookup("busybox:2")


def test_ambiguous_prefix(records):
    for image_id in (A, B):
        records.add(image_id, M, "x", "", [L])
    with pytest.raises(AmbiguousImage):
        records.lookup("a")
    assert records.lookup("ac").id == B


def test_remove_and_references(records):
    records.add(A, M, "x", "", [L], tag="docker.io/library/x:1")
    assert L.chain_id in records.referenced_chain_ids() and L.blob_digest in records.referenced_blobs()
    records.remove(A)
    assert records.all() == [] and records.referenced_chain_ids() == set()


def test_schema_migrates_once(tmp_path):
    path = str(tmp_path / "m.db")
    db.connect(path).close()
    conn = db.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(db.MIGRATIONS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_newer_schema_refused(tmp_path):
    path = str(tmp_path / "m.db")
    conn = db.connect(path)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    with pytest.raises(db.StateError, match="newer"):
        db.connect(path)
