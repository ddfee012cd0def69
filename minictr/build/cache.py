"""The build cache: what a step made, by the step's key (build/state.py's
chain_key: the parent's key and what the step is). A hit gives back the
layer, still in the store (its snapshot and blob are checked: the image GC
may have taken a layer no image keeps). Entries are written only after
their layer is stored, so a build killed midway leaves no entry that
points at nothing."""
from __future__ import annotations

import json
import time

from minictr.image.records import LayerRecord

_FIELDS = ("chain_id", "diff_id", "blob_digest", "blob_media_type", "blob_size", "unpacked_size")
NO_LAYER = object()   # a hit for a step that changed no file


class BuildCache:
    def __init__(self, store):
        self.store = store          # the image store (its connection holds the table)

    def get(self, key: str) -> tuple | None:
        """(the cached layer: a LayerRecord or NO_LAYER, when it was made:
        epoch seconds), or None for a miss. The time goes back into the
        history, so an unchanged rebuild gives the same image ID."""
        row = self.store.conn.execute("SELECT layer, created FROM build_cache WHERE key=?", (key,)).fetchone()
        if row is None:
            return None
        if row[0] is None:
            return NO_LAYER, row[1]
        layer = LayerRecord(**{k: v for k, v in json.loads(row[0]).items() if k in _FIELDS})
        if not (self.store.snapshots.exists(layer.chain_id) and self.store.content.has(layer.blob_digest)):
            return None   # collected since: build it again
        return layer, row[1]

    def put(self, key: str, layer: LayerRecord | None, created_by: str, created: float | None = None) -> float:
        """Records a step's result; returns its time."""
        created = time.time() if created is None else created
        value = None if layer is None else json.dumps({k: getattr(layer, k) for k in _FIELDS})
        self.store.conn.execute("INSERT OR REPLACE INTO build_cache (key, layer, created_by, created) "
                                "VALUES (?,?,?,?)", (key, value, created_by, created))
        return created
