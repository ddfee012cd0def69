"""The content store's one way in: write, verify, rename; resume after a
kill; a wrong blob never appears under a real name."""
import hashlib
import os
import threading

import pytest

from minictr.image.content import ContentStore
from minictr.image.errors import DigestMismatch, ImageError


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_put_read_roundtrip(tmp_path):
    store = ContentStore(str(tmp_path))
    data = b"hello blob"
    d = store.put(data)
    assert d == _digest(data) and store.has(d) and store.read(d) == data
    assert oct(os.stat(tmp_path / "blobs").st_mode & 0o777) == "0o700"


def test_mismatch_keeps_nothing(tmp_path):
    store = ContentStore(str(tmp_path))
    wrong = _digest(b"other")
    with pytest.raises(DigestMismatch) as e:
        store.put(b"data", wrong)
    assert wrong in str(e.value)
    assert not store.has(wrong) and os.listdir(store.ingest_dir) == []


def test_size_overrun_and_short_refused(tmp_path):
    store = ContentStore(str(tmp_path))
    data = b"x" * 10
    with pytest.raises(ImageError, match="more than the 5 bytes"):
        with store.writer(_digest(data), 5) as w:
            w.write(data)
    with pytest.raises(ImageError, match="got 10 bytes, its descriptor declares 20"):
        with store.writer(_digest(data), 20) as w:
            w.write(data)
    assert not store.has(_digest(data)) and os.listdir(store.ingest_dir) == []


def test_resume_after_interrupted_write(tmp_path):
    store = ContentStore(str(tmp_path))
    data = os.urandom(3 << 20)
    d = _digest(data)
    w = store.writer(d, len(data))
    w.write(data[:1000000])
    w._close(remove=False)  # as if killed: the ingest stays
    w2 = store.writer(d, len(data))
    assert w2.offset == 1000000
    w2.write(data[1000000:])
    w2.commit()
    assert store.read(d) == data and os.listdir(store.ingest_dir) == []


def test_corrupt_stored_blob_detected_on_read(tmp_path):
    store = ContentStore(str(tmp_path))
    d = store.put(b"good")
    with open(store.path(d), "wb") as f:
        f.write(b"evil")
    with pytest.raises(DigestMismatch):
        store.read(d)


def test_concurrent_writers_of_one_blob(tmp_path):
    store = ContentStore(str(tmp_path))
    data = os.urandom(1 << 20)
    d = _digest(data)
    errors = []

    def write():
        try:
            with store.writer(d, len(data)) as w:
                if not w.complete:
                    for i in range(0, len(data), 65536):
                        w.write(data[i:i + 65536])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and store.read(d) == data and os.listdir(store.ingest_dir) == []


def test_prune_ingest_skips_live_writers(tmp_path):
    store = ContentStore(str(tmp_path))
    live = store.writer(_digest(b"live"), 4)
    dead = store.writer(_digest(b"dead"), 4)
    dead.write(b"de")
    dead._close(remove=False)
    removed = store.prune_ingest()
    assert removed == [_digest(b"dead").split(":")[1]]
    live.write(b"live")
    live.commit()
    assert store.has(_digest(b"live"))
