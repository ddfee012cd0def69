"""The layer writer (image/layer_writer.py): a tar streamed in becomes a
gzip blob whose sha256 is its digest and whose gunzip'ed sha256 is its
diff_id, unpacked into its snapshot; an interrupted or killed writer
leaves nothing under a name; the same content twice is stored once; a
writer given nothing stores docker's empty layer. And the new image's
documents and record (oci/new_image.py, image/image_writer.py)."""
import gzip
import hashlib
import io
import json
import os
import select
import signal
import subprocess
import sys
import tarfile
import textwrap

import pytest

from minictr.image.errors import ImageError
from minictr.image.image_writer import store_image
from minictr.image.layer_writer import EMPTY_TAR, LayerWriter
from minictr.image.store import ImageStore
from minictr.image.tar_writer import DIR, FILE, SYMLINK, Node, write_tar
from minictr.oci import image_config, manifest, new_image

UID, GID = os.getuid(), os.getgid()
EMPTY_DIFF_ID = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _members(files: dict[str, bytes]):
    for name, data in files.items():
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.uid, info.gid, info.mtime = len(data), 0o644, UID, GID, 1_600_000_000
        yield info, data


def _stream_tar(out, files: dict[str, bytes]) -> None:
    """What a builder does: a tar written straight into the writer."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for info, data in _members(files):
            tar.addfile(info, io.BytesIO(data))


def _leftovers(store: ImageStore) -> dict[str, list[str]]:
    """Every name in the places a layer passes through."""
    places = {"tmp": os.path.join(store.root, "tmp"), "ingest": store.content.ingest_dir,
              "blobs": os.path.join(store.content.blobs, "sha256"), "snapshots": store.snapshots.root}
    return {k: sorted(os.listdir(p)) for k, p in places.items() if os.path.isdir(p) and os.listdir(p)}


@pytest.fixture
def store(tmp_path):
    s = ImageStore(str(tmp_path / "root"))
    yield s
    s.close()


def test_a_streamed_tar_is_a_blob_of_its_digest_and_a_snapshot_of_its_diff_id(store):
    files = {"hello.txt": b"hello\n", "big.bin": os.urandom(3 << 20)}
    raw = io.BytesIO()
    _stream_tar(raw, files)
    with LayerWriter(store) as w:
        _stream_tar(w, files)
        layer = w.commit()
    blob = open(store.content.path(layer.blob_digest), "rb").read()
    assert _sha(blob) == layer.blob_digest and len(blob) == layer.blob_size
    assert _sha(gzip.decompress(blob)) == layer.diff_id == _sha(raw.getvalue())
    assert layer.chain_id == layer.diff_id   # a bottom layer's chain ID is its diff_id
    assert layer.blob_media_type == "application/vnd.docker.image.rootfs.diff.tar.gzip"
    assert layer.unpacked_size == sum(len(d) for d in files.values())
    fs = store.snapshots.path(layer.chain_id)
    assert open(os.path.join(fs, "hello.txt"), "rb").read() == b"hello\n"
    assert open(os.path.join(fs, "big.bin"), "rb").read() == files["big.bin"]
    assert _leftovers(store).keys() == {"blobs", "snapshots"}   # no temp, no ingest left
    assert store.content.list() == [layer.blob_digest]


def test_nodes_written_with_write_tar_as_a_builder_would(store):
    nodes = [Node("app", DIR, 0o755, UID, GID), Node("app/run.sh", FILE, 0o755, UID, GID, size=10,
                                                     opener=lambda: io.BytesIO(b"echo hi\n")),
             Node("app/latest", SYMLINK, 0o777, UID, GID, linkname="run.sh")]
    with LayerWriter(store) as w:
        assert write_tar(nodes, w) == 10
        layer = w.commit()
    fs = store.snapshots.path(layer.chain_id)
    assert open(os.path.join(fs, "app/run.sh"), "rb").read() == b"echo hi\n\0\0"   # padded to its header's size
    assert os.readlink(os.path.join(fs, "app/latest")) == "run.sh"
    assert os.stat(os.path.join(fs, "app/run.sh")).st_mode & 0o777 == 0o755


def test_a_layer_over_a_parent_gets_the_parents_chain(store):
    with LayerWriter(store) as w:
        _stream_tar(w, {"base.txt": b"base"})
        base = w.commit()
    with LayerWriter(store, base.chain_id) as w:
        _stream_tar(w, {"top.txt": b"top"})
        top = w.commit()
    assert top.chain_id == image_config.chain_ids([base.diff_id, top.diff_id])[-1] != top.diff_id
    assert store.snapshots.parent(top.chain_id) == base.chain_id
    assert store.snapshots.chain(top.chain_id) == [base.chain_id, top.chain_id]   # base first


class _Interrupted(Exception):
    pass


def _broken_files():
    yield from _members({"first.txt": os.urandom(1 << 20)})
    raise _Interrupted("the tree went away mid-walk")


def test_an_exception_mid_stream_leaves_nothing(store):
    before = _leftovers(store)
    with pytest.raises(_Interrupted):
        with LayerWriter(store) as w:
            with tarfile.open(fileobj=w, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for info, data in _broken_files():
                    tar.addfile(info, io.BytesIO(data))
    assert w.tar_size > 0 and w.blob_size > 0   # bytes went through before the fault
    assert _leftovers(store) == before == {}
    assert store.content.list() == [] and store.snapshots.list() == []


def test_leaving_without_commit_leaves_nothing(store):
    with LayerWriter(store) as w:
        _stream_tar(w, {"a": b"a" * 100_000})
        w.finish()
    assert _leftovers(store) == {}


def test_a_killed_writer_leaves_no_name_behind(store, tmp_path):
    """SIGKILL mid-stream: the spool file never had a name."""
    script = textwrap.dedent(f"""
        import os, sys
        from minictr.image.store import ImageStore
        from minictr.image.layer_writer import LayerWriter
        store = ImageStore({store.root!r})
        with LayerWriter(store) as w:
            w.write(os.urandom(1 << 20))
            print("written", flush=True)
            sys.stdin.read()   # until killed
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert select.select([proc.stdout], [], [], 30)[0], "the writer did not start within 30 s"
        assert proc.stdout.readline() == b"written\n"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdin.close()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert _leftovers(store) == {}


def test_the_same_content_twice_is_stored_once(store):
    files = {"same.txt": b"same content\n" * 1000}
    layers = []
    for _ in range(2):
        with LayerWriter(store) as w:
            _stream_tar(w, files)
            layers.append(w.commit())
    first, second = layers
    assert (first.blob_digest, first.diff_id, first.chain_id, first.blob_size) == \
           (second.blob_digest, second.diff_id, second.chain_id, second.blob_size)
    assert store.content.list() == [first.blob_digest] and store.snapshots.list() == [first.chain_id]
    assert _leftovers(store).keys() == {"blobs", "snapshots"}


def test_a_missing_blob_is_stored_again_when_its_snapshot_exists(store):
    with LayerWriter(store) as w:
        _stream_tar(w, {"x": b"x"})
        first = w.commit()
    store.content.delete(first.blob_digest)
    with LayerWriter(store) as w:
        _stream_tar(w, {"x": b"x"})
        again = w.commit()
    assert again.blob_digest == first.blob_digest and store.content.has(first.blob_digest)


def test_a_writer_given_nothing_stores_dockers_empty_layer(store):
    with LayerWriter(store) as w:
        assert w.empty
        layer = w.commit()
    assert layer.diff_id == EMPTY_DIFF_ID == _sha(EMPTY_TAR)
    assert gzip.decompress(open(store.content.path(layer.blob_digest), "rb").read()) == EMPTY_TAR
    assert os.listdir(store.snapshots.path(layer.chain_id)) == [] and layer.unpacked_size == 0


def test_commit_twice_gives_the_same_record_and_writes_after_finish_are_refused(store):
    with LayerWriter(store) as w:
        _stream_tar(w, {"a": b"a"})
        layer = w.commit()
        assert w.commit() is layer
        with pytest.raises(ValueError, match="already finished"):
            w.write(b"more")
    with pytest.raises(ValueError, match="not open"):
        LayerWriter(store).write(b"x")   # never opened
    unfinished = LayerWriter(store)
    with unfinished:
        unfinished.write(b"x")
    with pytest.raises(ValueError, match="not open"):
        unfinished.commit()   # its spool is gone


def test_a_hostile_tar_is_refused_naming_the_entry_and_leaves_no_snapshot(store):
    def escaping(out):
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            info = tarfile.TarInfo("../../escape.txt")
            info.size = 3
            tar.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(ImageError, match="escape.txt"):
        with LayerWriter(store) as w:
            escaping(w)
            w.commit()
    assert store.snapshots.list() == []
    left = _leftovers(store)
    assert "tmp" not in left and "ingest" not in left and "snapshots" not in left
    for digest in store.content.list():   # at most the (verified) blob, which the GC removes
        assert _sha(open(store.content.path(digest), "rb").read()) == digest


def test_a_new_image_over_committed_layers_is_stored_and_parses(store):
    with LayerWriter(store) as w:
        _stream_tar(w, {"a.txt": b"a"})
        layer = w.commit()
    parent = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
              "rootfs": {"type": "layers", "diff_ids": []}, "history": []}
    doc = new_image.child_config(parent, {"Cmd": ["cat", "/a.txt"]}, "2024-01-02T03:04:05Z", layer.diff_id,
                                 created_by="cat /a.txt", author="me", comment="why")
    assert list(doc) == ["architecture", "os", "author", "config", "created", "history", "rootfs"]
    assert doc["history"] == [{"created": "2024-01-02T03:04:05Z", "created_by": "cat /a.txt", "author": "me",
                               "comment": "why"}]
    image_id = store_image(store, doc, [layer], tag="docker.io/library/made:v1")
    config = image_config.parse(store.content.read(image_id))
    assert config.diff_ids == [layer.diff_id] and config.chain_ids() == [layer.chain_id]
    record = store.records.find("docker.io/library/made:v1")
    assert record.id == image_id and [x.chain_id for x in record.layers] == [layer.chain_id]
    m = manifest.parse_manifest(store.content.read(record.manifest_digest))
    assert m.config.digest == image_id and [d.digest for d in m.layers] == [layer.blob_digest]
    again = new_image.child_config(config.doc, config.config, "2024-01-02T03:04:06Z", None, created_by="x")
    assert again["history"][-1] == {"created": "2024-01-02T03:04:06Z", "created_by": "x", "empty_layer": True}
    assert again["rootfs"]["diff_ids"] == [layer.diff_id] and "container" not in again
    assert json.loads(new_image.config_bytes(again)) == again
