"""Named and anonymous volumes: directories under <root>/volumes/<name>/_data
(docker's local driver layout). A new, empty volume mounted over a path
the image has content at gets a copy of that content first, as docker does."""
from __future__ import annotations

import os
import time

from minictr import jsonio
from minictr.engine.errors import EngineError
from minictr.engine.in_root import open_in_root
from minictr.ids import new_id


class VolumeInUse(EngineError):
    pass


class Volumes:
    def __init__(self, root: str):
        self.dir = os.path.join(root, "volumes")

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name, "_data")

    def _meta(self, name: str) -> str:
        return os.path.join(self.dir, name, "volume.json")

    def exists(self, name: str) -> bool:
        return os.path.isdir(self.path(name))

    def create(self, name: str = "", labels: dict | None = None, anonymous: bool = False) -> str:
        name = name or new_id()
        if self.exists(name):
            return name
        os.makedirs(os.path.join(self.dir, name), mode=0o701, exist_ok=True)
        tmp = self._meta(name) + ".tmp"
        with open(tmp, "w") as f:
            f.write(jsonio.dumps({"Name": name, "Labels": labels or {}, "Anonymous": anonymous,
                                  "CreatedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}))
        os.replace(tmp, self._meta(name))
        os.makedirs(self.path(name), mode=0o755, exist_ok=True)
        return name

    def meta(self, name: str) -> dict:
        try:
            with open(self._meta(name)) as f:
                return jsonio.loads(f.read())
        except (OSError, ValueError):
            return {"Name": name, "Labels": {}, "Anonymous": False, "CreatedAt": ""}

    def list(self) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.dir) if self.exists(n))
        except FileNotFoundError:
            return []

    def inspect(self, name: str) -> dict:
        if not self.exists(name):
            raise EngineError(f"get {name}: no such volume")
        meta = self.meta(name)
        return {"CreatedAt": meta.get("CreatedAt", ""), "Driver": "local", "Labels": meta.get("Labels") or {},
                "Mountpoint": self.path(name), "Name": name, "Options": None, "Scope": "local"}

    def remove(self, name: str, users: list[str]) -> None:
        if not self.exists(name):
            raise EngineError(f"get {name}: no such volume")
        if users:
            raise VolumeInUse(f"remove {name}: volume is in use - [{', '.join(users)}]")
        import shutil  # ~2 ms; only when a volume is copied or removed
        shutil.rmtree(os.path.join(self.dir, name))

    def populate(self, name: str, rootfs: str, destination: str) -> None:
        """Copy the image's content at `destination` into a new empty volume."""
        target = self.path(name)
        if os.listdir(target):
            return
        import shutil  # ~2 ms; only when a volume is copied or removed

        try:
            fd = open_in_root(rootfs, destination, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return
        try:
            source = f"/proc/self/fd/{fd}"
            for entry in os.listdir(source):
                src, dst = os.path.join(source, entry), os.path.join(target, entry)
                if os.path.isdir(src) and not os.path.islink(src):
                    shutil.copytree(src, dst, symlinks=True)
                else:
                    shutil.copy2(src, dst, follow_symlinks=False)
            st = os.fstat(fd)
            os.chown(target, st.st_uid, st.st_gid)
            os.chmod(target, st.st_mode & 0o7777)
        finally:
            os.close(fd)
