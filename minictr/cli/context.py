"""What every command works with (httpie's Environment idea): the output
streams, whether they are terminals, the engine root, and the stores,
opened lazily so `minictr version` pays for none of them."""
from __future__ import annotations

import os
import sys


class Context:
    def __init__(self, root: str | None = None, stdout=None, stderr=None):
        self.root_override = root
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self._images = None
        self._registry = None
        self._engine = None

    @property
    def stdout_is_tty(self) -> bool:
        try:
            return os.isatty(self.stdout.fileno())
        except (AttributeError, OSError, ValueError):
            return False

    @property
    def root(self) -> str:
        from minictr.state import paths
        return paths.engine_root(self.root_override)

    @property
    def engine(self):
        """The container engine (its image store is `images` too)."""
        if self._engine is None:
            from minictr.engine.containers import Engine
            self._engine = Engine(self.root, images=self._images)   # one connection for both
            self._images = self._engine.images
        return self._engine

    @property
    def stderr_is_tty(self) -> bool:
        try:
            return os.isatty(self.stderr.fileno())
        except (AttributeError, OSError, ValueError):
            return False

    @property
    def images(self):
        if self._images is None:
            from minictr.image.store import ImageStore
            self._images = ImageStore(self.root)
        return self._images

    @property
    def registry(self):
        if self._registry is None:
            from minictr.image.registry.client import RegistryClient
            from minictr.image.registry.config import RegistryConfig
            from minictr.image.registry.credentials import CredentialStore
            self._registry = RegistryClient(RegistryConfig.load(), CredentialStore())
        return self._registry

    def out(self, text: str = "") -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def err(self, text: str) -> None:
        self.stderr.write(text + "\n")
        self.stderr.flush()
