"""The image side of one engine root: metadata, content store and
snapshots, opened together so every image command sees the same three."""
from __future__ import annotations

import os

from minictr.image.content import ContentStore
from minictr.image.records import ImageRecords
from minictr.image.snapshots import Snapshots
from minictr.state import db, paths


class ImageStore:
    def __init__(self, root: str | None = None):
        self.root = paths.engine_root(root)
        os.makedirs(self.root, mode=0o711, exist_ok=True)
        self.conn = db.connect(paths.database(self.root))
        self.records = ImageRecords(self.conn)
        self.content = ContentStore(os.path.join(self.root, "content"))
        self.snapshots = Snapshots(os.path.join(self.root, "snapshots"))

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "ImageStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
