"""Manifests, indexes and descriptors as plain data, parsed with errors
that name the field (`manifest.layers[2].digest: ...`).

An index (or Docker manifest list) points at one manifest per platform; a
manifest points at one config and the layers, in order from the bottom.
"""
from __future__ import annotations

from minictr import jsonio
from minictr.oci import digest as _digest
from minictr.oci import media_types as mt
from minictr.oci import platform as _platform
from minictr.oci.errors import InvalidManifest


class Descriptor:
    __slots__ = ("media_type", "digest", "size", "platform", "annotations", "urls")

    def __init__(self, media_type: str, digest: str, size: int, platform: _platform.Platform | None = None,
                 annotations: dict | None = None, urls: list | None = None):
        self.media_type, self.digest, self.size = media_type, digest, size
        self.platform, self.annotations, self.urls = platform, annotations or {}, urls or []

    def as_dict(self) -> dict:
        out = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.platform is not None:
            out["platform"] = self.platform.as_dict()
        if self.annotations:
            out["annotations"] = self.annotations
        if self.urls:
            out["urls"] = self.urls
        return out

    def __repr__(self) -> str:
        return f"Descriptor({self.media_type}, {self.digest}, {self.size})"


class Manifest:
    __slots__ = ("media_type", "config", "layers", "annotations", "raw")

    def __init__(self, media_type: str, config: Descriptor, layers: list[Descriptor],
                 annotations: dict | None = None, raw: bytes = b""):
        self.media_type, self.config, self.layers = media_type, config, layers
        self.annotations, self.raw = annotations or {}, raw


class Index:
    __slots__ = ("media_type", "manifests", "annotations", "raw")

    def __init__(self, media_type: str, manifests: list[Descriptor], annotations: dict | None = None,
                 raw: bytes = b""):
        self.media_type, self.manifests, self.annotations, self.raw = media_type, manifests, annotations or {}, raw

    def platforms(self) -> list[str]:
        return [str(d.platform) for d in self.manifests if d.platform is not None]


def _load(data: bytes, what: str) -> dict:
    try:
        doc = jsonio.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidManifest(f"{what}: not valid JSON ({e})") from None
    if not isinstance(doc, dict):
        raise InvalidManifest(f"{what}: expected a JSON object")
    return doc


def _string(doc: dict, key: str, where: str, required: bool = True) -> str:
    value = doc.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise InvalidManifest(f"{where}.{key}: expected a non-empty string")
    return value


def _object(doc: dict, key: str, where: str) -> dict:
    value = doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidManifest(f"{where}.{key}: expected an object")
    return value


def parse_descriptor(doc, where: str) -> Descriptor:
    if not isinstance(doc, dict):
        raise InvalidManifest(f"{where}: expected an object")
    media_type = _string(doc, "mediaType", where)
    dgst = _string(doc, "digest", where)
    try:
        _digest.parse(dgst)
    except _digest.InvalidDigest as e:
        raise InvalidManifest(f"{where}.digest: {e}") from None
    size = doc.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidManifest(f"{where}.size: expected a non-negative integer")
    plat = None
    if doc.get("platform") is not None:
        try:
            plat = _platform.from_dict(doc["platform"], f"{where}.platform")
        except _platform.InvalidPlatform as e:
            raise InvalidManifest(str(e)) from None
    urls = doc.get("urls") or []
    if not isinstance(urls, list):
        raise InvalidManifest(f"{where}.urls: expected a list")
    return Descriptor(media_type, dgst, size, plat, _object(doc, "annotations", where), urls)


def _check_schema(doc: dict, where: str) -> None:
    version = doc.get("schemaVersion")
    if version == 1:
        raise InvalidManifest(f"{where}: Docker image manifest schema 1 is deprecated and not supported")
    if version != 2:
        raise InvalidManifest(f"{where}.schemaVersion: expected 2, got {version!r}")


def media_type_of(data: bytes, header_type: str = "") -> str:
    """The document's own mediaType, else the HTTP/descriptor one, else a
    guess from its shape (OCI allows the field to be absent)."""
    doc = _load(data, "manifest")
    own = doc.get("mediaType")
    if isinstance(own, str) and own:
        return own
    if header_type and header_type not in ("application/json", "text/plain"):
        return header_type
    if "manifests" in doc:
        return mt.OCI_INDEX
    if "config" in doc and "layers" in doc:
        return mt.OCI_MANIFEST
    raise InvalidManifest("manifest: cannot tell its media type (no mediaType field)")


def parse_manifest(data: bytes, media_type: str = "", where: str = "manifest") -> Manifest:
    doc = _load(data, where)
    _check_schema(doc, where)
    own = doc.get("mediaType") or media_type or mt.OCI_MANIFEST
    if own not in mt.MANIFESTS:
        raise InvalidManifest(f"{where}.mediaType: {own!r} is not an image manifest")
    config = parse_descriptor(doc.get("config"), f"{where}.config")
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise InvalidManifest(f"{where}.layers: expected a list")
    parsed = [parse_descriptor(layer, f"{where}.layers[{i}]") for i, layer in enumerate(layers)]
    for i, layer in enumerate(parsed):
        if layer.media_type not in mt.LAYERS:
            raise InvalidManifest(f"{where}.layers[{i}].mediaType: unsupported layer type {layer.media_type!r}")
    return Manifest(own, config, parsed, _object(doc, "annotations", where), data)


def parse_index(data: bytes, media_type: str = "", where: str = "index") -> Index:
    doc = _load(data, where)
    _check_schema(doc, where)
    own = doc.get("mediaType") or media_type or mt.OCI_INDEX
    if own not in mt.INDEXES:
        raise InvalidManifest(f"{where}.mediaType: {own!r} is not an image index")
    manifests = doc.get("manifests")
    if not isinstance(manifests, list):
        raise InvalidManifest(f"{where}.manifests: expected a list")
    return Index(own, [parse_descriptor(m, f"{where}.manifests[{i}]") for i, m in enumerate(manifests)],
                 _object(doc, "annotations", where), data)


class NoMatchingPlatform(LookupError):
    pass


def select_platform(index: Index, wanted: _platform.Platform) -> Descriptor:
    """The best manifest of `index` for `wanted`; attestation manifests
    (platform unknown/unknown) never match."""
    best, best_rank = None, None
    for desc in index.manifests:
        if desc.platform is None or desc.media_type not in mt.MANIFESTS + mt.INDEXES:
            continue
        rank = _platform.match_rank(wanted, desc.platform)
        if rank is not None and (best_rank is None or rank < best_rank):
            best, best_rank = desc, rank
    if best is None:
        offered = ", ".join(p for p in index.platforms() if p != "unknown/unknown") or "none"
        raise NoMatchingPlatform(f"no matching manifest for {wanted} in the manifest list entries "
                                 f"(available: {offered})")
    return best
