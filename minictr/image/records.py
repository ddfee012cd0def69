"""Image records in the metadata database: which images exist, the names
pointing at them, the manifests they came through, their layers.

Names are resolved the way docker does: a tag (`busybox` means
`docker.io/library/busybox:latest`), a `name@digest`, the full image ID
(`sha256:<config digest>`) or an unambiguous prefix of it.
"""
from __future__ import annotations

import time

from minictr.image.errors import ImageError, NotFound
from minictr.oci import reference as _ref
from minictr.state import sqlite
from minictr.state.db import transaction


class LayerRecord:
    __slots__ = ("chain_id", "diff_id", "blob_digest", "blob_media_type", "blob_size", "unpacked_size")

    def __init__(self, chain_id: str, diff_id: str, blob_digest: str, blob_media_type: str, blob_size: int,
                 unpacked_size: int = 0):
        self.chain_id, self.diff_id = chain_id, diff_id
        self.blob_digest, self.blob_media_type, self.blob_size = blob_digest, blob_media_type, blob_size
        self.unpacked_size = unpacked_size


class ImageRecord:
    __slots__ = ("id", "manifest_digest", "manifest_media_type", "size", "created", "added_at", "tags",
                 "repo_digests", "layers")

    def __init__(self, row: sqlite.Row, tags: list[str], repo_digests: list[str], layers: list[LayerRecord]):
        self.id = row["id"]
        self.manifest_digest = row["manifest_digest"]
        self.manifest_media_type = row["manifest_media_type"]
        self.size, self.created, self.added_at = row["size"], row["created"], row["added_at"]
        self.tags, self.repo_digests, self.layers = tags, repo_digests, layers

    @property
    def unpacked_size(self) -> int:
        """What docker's SIZE column shows: the content of every layer."""
        return sum(layer.unpacked_size for layer in self.layers)

    @property
    def short_id(self) -> str:
        return self.id.split(":", 1)[1][:12]


class AmbiguousImage(ImageError):
    pass


class ImageRecords:
    def __init__(self, conn: sqlite.Connection):
        self.conn = conn

    # -- writing ---------------------------------------------------------

    def add(self, image_id: str, manifest_digest: str, manifest_media_type: str, created: str,
            layers: list[LayerRecord], tag: str | None = None, repo_digest: tuple[str, str] | None = None) -> None:
        """Record an image (idempotent) and point `tag` and `repo_digest` at it, in one transaction."""
        size = sum(layer.blob_size for layer in layers)
        with transaction(self.conn) as c:
            exists = c.execute("SELECT 1 FROM images WHERE id=?", (image_id,)).fetchone()
            if not exists:
                c.execute("INSERT INTO images(id, manifest_digest, manifest_media_type, size, created, added_at) "
                          "VALUES (?,?,?,?,?,?)",
                          (image_id, manifest_digest, manifest_media_type, size, created, time.time()))
                c.executemany("INSERT INTO image_layers VALUES (?,?,?,?,?,?,?,?)",
                              [(image_id, i, layer.chain_id, layer.diff_id, layer.blob_digest,
                                layer.blob_media_type, layer.blob_size, layer.unpacked_size)
                               for i, layer in enumerate(layers)])
            if tag:
                c.execute("INSERT OR REPLACE INTO tags(name, image_id) VALUES (?,?)", (tag, image_id))
            if repo_digest:
                c.execute("INSERT OR REPLACE INTO repo_digests(repo, digest, image_id) VALUES (?,?,?)",
                          (repo_digest[0], repo_digest[1], image_id))

    def set_manifest(self, image_id: str, manifest_digest: str, manifest_media_type: str,
                     layers: list[LayerRecord]) -> None:
        """Point a recorded image at another manifest of the same config (its
        layers compressed otherwise); nothing changes when it has that one."""
        with transaction(self.conn) as c:
            changed = c.execute("UPDATE images SET manifest_digest=?, manifest_media_type=?, size=? "
                                "WHERE id=? AND manifest_digest!=?",
                                (manifest_digest, manifest_media_type, sum(layer.blob_size for layer in layers),
                                 image_id, manifest_digest)).rowcount
            if changed:
                c.execute("DELETE FROM image_layers WHERE image_id=?", (image_id,))
                c.executemany("INSERT INTO image_layers VALUES (?,?,?,?,?,?,?,?)",
                              [(image_id, i, layer.chain_id, layer.diff_id, layer.blob_digest,
                                layer.blob_media_type, layer.blob_size, layer.unpacked_size)
                               for i, layer in enumerate(layers)])

    def tag(self, image_id: str, name: str) -> None:
        with transaction(self.conn) as c:
            c.execute("INSERT OR REPLACE INTO tags(name, image_id) VALUES (?,?)", (name, image_id))

    def untag(self, name: str) -> None:
        with transaction(self.conn) as c:
            c.execute("DELETE FROM tags WHERE name=?", (name,))

    def remove(self, image_id: str) -> None:
        with transaction(self.conn) as c:
            for table in ("tags", "repo_digests", "image_layers", "image_leases"):
                c.execute(f"DELETE FROM {table} WHERE image_id=?", (image_id,))
            c.execute("DELETE FROM images WHERE id=?", (image_id,))

    def remove_repo_digests_exact(self, image_id: str, repo: str, digest: str) -> None:
        with transaction(self.conn) as c:
            c.execute("DELETE FROM repo_digests WHERE image_id=? AND repo=? AND digest=?", (image_id, repo, digest))

    def remove_repo_digests(self, image_id: str, repo: str) -> None:
        with transaction(self.conn) as c:
            c.execute("DELETE FROM repo_digests WHERE image_id=? AND repo=?", (image_id, repo))

    def lease(self, image_id: str, holder: str) -> None:
        with transaction(self.conn) as c:
            c.execute("INSERT OR IGNORE INTO image_leases(image_id, holder) VALUES (?,?)", (image_id, holder))

    def release(self, holder: str) -> None:
        with transaction(self.conn) as c:
            c.execute("DELETE FROM image_leases WHERE holder=?", (holder,))

    def holders(self, prefix: str) -> list[str]:
        """Every lease holder whose name starts with prefix (`container:`)."""
        return [r[0] for r in self.conn.execute("SELECT holder FROM image_leases WHERE substr(holder, 1, ?) = ?",
                                                (len(prefix), prefix))]

    def lease_holders(self, image_id: str) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT holder FROM image_leases WHERE image_id=? ORDER BY holder",
                                                (image_id,))]

    # -- reading ---------------------------------------------------------

    def get(self, image_id: str) -> ImageRecord:
        row = self.conn.execute("SELECT * FROM images WHERE id=?", (image_id,)).fetchone()
        if row is None:
            raise NotFound(f"No such image: {image_id}")
        return self._record(row)

    def _record(self, row: sqlite.Row) -> ImageRecord:
        image_id = row["id"]
        tags = [r[0] for r in self.conn.execute("SELECT name FROM tags WHERE image_id=? ORDER BY name", (image_id,))]
        digests = [f"{r[0]}@{r[1]}" for r in
                   self.conn.execute("SELECT repo, digest FROM repo_digests WHERE image_id=? ORDER BY repo, digest",
                                     (image_id,))]
        layers = [LayerRecord(*r) for r in self.conn.execute(
            "SELECT chain_id, diff_id, blob_digest, blob_media_type, blob_size, unpacked_size FROM image_layers "
            "WHERE image_id=? ORDER BY position", (image_id,))]
        return ImageRecord(row, tags, digests, layers)

    def all(self) -> list[ImageRecord]:
        rows = self.conn.execute("SELECT * FROM images ORDER BY added_at DESC").fetchall()
        return [self._record(row) for row in rows]

    def find(self, text: str) -> ImageRecord | None:
        """The image `text` names, or None; raises AmbiguousImage for a short
        ID prefix matching several."""
        try:
            ref = _ref.parse(text)
        except _ref.InvalidReference:
            ref = None
        if ref is not None:
            if ref.digest:
                row = self.conn.execute("SELECT image_id FROM repo_digests WHERE repo=? AND digest=?",
                                        (ref.name, ref.digest)).fetchone()
                if row is None:
                    row = self.conn.execute("SELECT id FROM images WHERE id=? OR manifest_digest=?",
                                            (ref.digest, ref.digest)).fetchone()
            else:
                row = self.conn.execute("SELECT image_id FROM tags WHERE name=?", (str(ref),)).fetchone()
            if row is not None:
                return self.get(row[0])
        return self._by_id_prefix(text)

    def _by_id_prefix(self, text: str) -> ImageRecord | None:
        hexpart = text[len("sha256:"):] if text.startswith("sha256:") else text
        if not hexpart or any(c not in "0123456789abcdef" for c in hexpart):
            return None
        rows = self.conn.execute("SELECT id FROM images WHERE id LIKE ?", (f"sha256:{hexpart}%",)).fetchall()
        if len(rows) > 1:
            raise AmbiguousImage(f"short image ID {text!r} is ambiguous: it matches {len(rows)} images")
        return self.get(rows[0][0]) if rows else None

    def lookup(self, text: str) -> ImageRecord:
        record = self.find(text)
        if record is None:
            raise NotFound(f"No such image: {text}")
        return record

    def referenced_blobs(self) -> set[str]:
        out = set()
        for row in self.conn.execute("SELECT id, manifest_digest FROM images"):
            out.update(row)
        out.update(r[0] for r in self.conn.execute("SELECT digest FROM repo_digests"))
        out.update(r[0] for r in self.conn.execute("SELECT blob_digest FROM image_layers"))
        return out

    def referenced_chain_ids(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT DISTINCT chain_id FROM image_layers")}

    def unpacked_size_of(self, chain_id: str) -> int:
        row = self.conn.execute("SELECT unpacked_size FROM image_layers WHERE chain_id=? LIMIT 1",
                                (chain_id,)).fetchone()
        return row[0] if row else 0

    def images_using_chain(self, chain_id: str) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT image_id FROM image_layers WHERE chain_id=?",
                                                (chain_id,))]
