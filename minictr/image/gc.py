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


def remove_unreferenced_blobs(store: ImageStore, collected: Collected | None = None) -> None:
    """Caller holds the GC lock."""
    keep = store.records.referenced_blobs()
    for digest in store.content.list():
        if digest not in keep:
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
        out.temp += store.content.prune_ingest()
        out.temp += store.snapshots.prune_temp()
    return out
