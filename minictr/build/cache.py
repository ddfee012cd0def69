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

    def put(self, key: str, layer: LayerRecord | None, created_by: str, created: float | None = None,
            parent: str = "", what: str = "") -> float:
        """Records a step's result; returns its time. `parent` and `what`
        (the two halves of the key) let --explain say why a later build missed."""
        created = time.time() if created is None else created
        value = None if layer is None else json.dumps({k: getattr(layer, k) for k in _FIELDS})
        self.store.conn.execute("INSERT OR REPLACE INTO build_cache (key, layer, created_by, created, parent, what) "
                                "VALUES (?,?,?,?,?,?)", (key, value, created_by, created, parent, what))
        return created

    def made_on(self, parent: str) -> list[tuple[str, str]]:
        """(what, created_by) of the entries made on `parent`, newest first."""
        return [(r[0], r[1]) for r in self.store.conn.execute(
            "SELECT what, created_by FROM build_cache WHERE parent=? ORDER BY created DESC LIMIT 20", (parent,))]

    def has_entry(self, key: str) -> bool:
        """An entry exists (its layer may have been collected since)."""
        return self.store.conn.execute("SELECT 1 FROM build_cache WHERE key=?", (key,)).fetchone() is not None
