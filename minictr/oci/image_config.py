"""The image configuration (what `docker inspect` shows under Config) and
the layer chain IDs derived from its diff_ids.

A chain ID names a stack of layers: the first layer's is its diff_id, each
next one is sha256 of "<parent chain id> <diff_id>". Two images sharing
their bottom layers share those chain IDs, so a snapshot unpacked once
serves both.
"""
from __future__ import annotations

from minictr import jsonio
from minictr.oci import digest as _digest
from minictr.oci.errors import InvalidManifest
from minictr.oci.platform import Platform

# Config keys docker keeps, with the JSON type each must have.
_CONFIG_TYPES = {"User": str, "WorkingDir": str, "Env": list, "Cmd": list, "Entrypoint": list,
                 "ExposedPorts": dict, "Volumes": dict, "Labels": dict, "StopSignal": str,
                 "Healthcheck": dict, "OnBuild": list, "Shell": list, "ArgsEscaped": bool}


class ImageConfig:
    __slots__ = ("raw", "doc", "architecture", "os", "variant", "config", "diff_ids", "history", "created",
                 "author")

    def __init__(self, raw: bytes, doc: dict):
        self.raw, self.doc = raw, doc
        self.architecture = doc.get("architecture", "")
        self.os = doc.get("os", "")
        self.variant = doc.get("variant", "")
        self.config = doc.get("config") or {}
        self.diff_ids = list(doc["rootfs"]["diff_ids"])
        self.history = doc.get("history") or []
        self.created = doc.get("created", "")
        self.author = doc.get("author", "")

    @property
    def platform(self) -> Platform:
        return Platform(self.os or "linux", self.architecture or "unknown", self.variant)

    def chain_ids(self) -> list[str]:
        return chain_ids(self.diff_ids)


def parse(data: bytes, where: str = "config") -> ImageConfig:
    try:
        doc = jsonio.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidManifest(f"{where}: not valid JSON ({e})") from None
    if not isinstance(doc, dict):
        raise InvalidManifest(f"{where}: expected a JSON object")
    rootfs = doc.get("rootfs")
    if not isinstance(rootfs, dict) or rootfs.get("type") != "layers":
        raise InvalidManifest(f"{where}.rootfs.type: expected \"layers\"")
    diff_ids = rootfs.get("diff_ids")
    if not isinstance(diff_ids, list):
        raise InvalidManifest(f"{where}.rootfs.diff_ids: expected a list")
    for i, d in enumerate(diff_ids):
        try:
            _digest.parse(d)
        except _digest.InvalidDigest as e:
            raise InvalidManifest(f"{where}.rootfs.diff_ids[{i}]: {e}") from None
    config = doc.get("config")
    if config is not None:
        if not isinstance(config, dict):
            raise InvalidManifest(f"{where}.config: expected an object")
        for key, kind in _CONFIG_TYPES.items():
            value = config.get(key)
            if value is not None and not isinstance(value, kind):
                raise InvalidManifest(f"{where}.config.{key}: expected {kind.__name__}")
    for key in ("architecture", "os", "variant", "created", "author"):
        if doc.get(key) is not None and not isinstance(doc[key], str):
            raise InvalidManifest(f"{where}.{key}: expected a string")
    if doc.get("history") is not None and not isinstance(doc["history"], list):
        raise InvalidManifest(f"{where}.history: expected a list")
    return ImageConfig(data, doc)


def chain_ids(diff_ids: list[str]) -> list[str]:
    out: list[str] = []
    for diff_id in diff_ids:
        if not out:
            out.append(diff_id)
        else:
            import hashlib
            out.append("sha256:" + hashlib.sha256(f"{out[-1]} {diff_id}".encode()).hexdigest())
    return out
