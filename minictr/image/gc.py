"""Garbage collection of the image store: blobs and snapshots no image
record references, and what killed pulls left (ingest files, snapshot temp
dirs). Runs under the exclusive GC lock, so nothing a running pull has
written but not yet recorded is taken."""
from __future__ import annotations

from minictr.image.store import ImageStore
from minictr.state.locks import gc_lock


class Collected:
    def __init__(self):
        self.blobs: list[str] = []
        self.snapshots: list[str] = []
        self.temp: list[str] = []
        self.bytes_freed = 0


# What an interrupted pull leaves may serve a retry (resumed ingests, the
# layers it did fetch): an automatic sweep leaves it that long.
STALE_AFTER = 600.0


def unreferenced_blobs(store: ImageStore) -> list[str]:
    """Blobs no image record references."""
    keep = store.records.referenced_blobs()
    return [digest for digest in store.content.list() if digest not in keep]


def remove_unreferenced_blobs(store: ImageStore, collected: Collected | None = None,
                              older_than: float = 0) -> None:
    """Caller holds the GC lock."""
    for digest in unreferenced_blobs(store):
        if not older_than or store.content.age(digest) >= older_than:
            try:
                size = store.content.size(digest)
            except Exception:
                size = 0
            store.content.delete(digest)
            if collected is not None:
                collected.blobs.append(digest)
                collected.bytes_freed += size


def collect(store: ImageStore) -> Collected:
    out = Collected()
    with gc_lock(store.root, shared=False):
        remove_unreferenced_blobs(store, out)
        keep = store.records.referenced_chain_ids()
        for chain_id in store.snapshots.list():
            if chain_id not in keep:
                store.snapshots.remove(chain_id)
                out.snapshots.append(chain_id)
        before = leftover_temp_bytes(store)
        out.temp += store.content.prune_ingest()
        out.temp += store.snapshots.prune_temp()
        out.bytes_freed += before - leftover_temp_bytes(store)
    return out


def leftover_temp_bytes(store: ImageStore) -> int:
    """Bytes in unfinished ingests and unpack temp dirs."""
    import os
    from minictr.fsutil import dir_size
    total = dir_size(store.content.ingest_dir)
    for name in os.listdir(store.snapshots.root):
        if name.startswith(".tmp-"):
            total += dir_size(os.path.join(store.snapshots.root, name))
    return total


def unreferenced_bytes(store: ImageStore) -> int:
    """What `system df` counts beyond the images: blobs no image references
    and what interrupted pulls left (all of it reclaimable by a prune)."""
    total = leftover_temp_bytes(store)
    for digest in unreferenced_blobs(store):
        try:
            total += store.content.size(digest)
        except OSError:
            pass
    return total


def sweep_stale(store: ImageStore, older_than: float = STALE_AFTER) -> Collected | None:
    """What killed pulls and loads left, removed at the start of the next
    one: unpack temp dirs of dead processes, and ingests and unreferenced
    blobs older than `older_than`. Skipped (None) while another pull, load
    or GC holds the lock: it cannot be told from a dead one's leftovers."""
    lock = gc_lock(store.root, shared=False)
    if not lock.try_acquire():
        return None
    out = Collected()
    with lock:
        out.temp += store.snapshots.prune_temp()
        out.temp += store.content.prune_ingest(older_than=older_than)
        remove_unreferenced_blobs(store, out, older_than=older_than)
    return out
