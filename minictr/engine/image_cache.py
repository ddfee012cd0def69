"""The images containers are made from, as the lifecycle needs them: the
record and the container config, each read once per process (an image ID
names fixed content, so neither can go stale). The caches are shared by
every thread; the store is this thread's."""
from __future__ import annotations

from minictr.image.views import config_of


class ImageCache:
    __slots__ = ("store", "_records", "_configs")

    def __init__(self, store, records: dict | None = None, configs: dict | None = None):
        self.store = store                      # minictr.image.store.ImageStore
        self._records = {} if records is None else records
        self._configs = {} if configs is None else configs

    @property
    def snapshots(self):
        return self.store.snapshots

    @property
    def leases(self):
        """The image records, where a container's lease on its image is kept."""
        return self.store.records

    def find(self, reference: str):
        image = self.store.records.find(reference)
        if image is not None:
            self._records[image.id] = image
        return image

    def lookup(self, reference: str):
        """As find(), an error if there is no such image."""
        image = self.store.records.lookup(reference)
        self._records[image.id] = image
        return image

    def image_of(self, rec):
        """The container's image record (`run` finds it at create and needs
        it again at start)."""
        image = self._records.get(rec.image_id)
        if image is None:
            image = self._records[rec.image_id] = self.store.records.get(rec.image_id)
        return image

    def config(self, image) -> dict:
        """The image's container config (verified once). Not to be changed
        by the caller."""
        config = self._configs.get(image.id)
        if config is None:
            config = self._configs[image.id] = config_of(self.store, image).config
        return config

    def config_of(self, rec) -> dict:
        return self.config(self.image_of(rec))
