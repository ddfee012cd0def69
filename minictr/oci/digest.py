"""Content digests (`algorithm:hex`), as the OCI image spec defines them:
the address of every manifest, config and layer blob."""
from __future__ import annotations


_HEX_LEN = {"sha256": 64, "sha512": 128}
_HEX = frozenset("0123456789abcdef")


class InvalidDigest(ValueError):
    pass


def parse(digest: str) -> tuple[str, str]:
    """Split and check a digest; raises InvalidDigest saying what is wrong."""
    if not isinstance(digest, str) or ":" not in digest:
        raise InvalidDigest(f"invalid digest {digest!r}: expected algorithm:hex")
    algo, hexpart = digest.split(":", 1)
    if algo not in _HEX_LEN:
        raise InvalidDigest(f"invalid digest {digest!r}: unsupported algorithm {algo!r}")
    if len(hexpart) != _HEX_LEN[algo] or not set(hexpart) <= _HEX:
        raise InvalidDigest(f"invalid digest {digest!r}: expected {_HEX_LEN[algo]} lowercase hex digits")
    return algo, hexpart


def is_valid(digest: str) -> bool:
    try:
        parse(digest)
        return True
    except InvalidDigest:
        return False


_SMALL = 1 << 16


def of_bytes(data: bytes, algo: str = "sha256") -> str:
    if algo == "sha256" and len(data) <= _SMALL:
        builtin = _builtin_sha256()
        if builtin is not None:
            return f"sha256:{builtin(data).hexdigest()}"
    import hashlib   # OpenSSL's set-up costs ~5 ms: only where something is hashed
    return f"{algo}:{hashlib.new(algo, data).hexdigest()}"


def _builtin_sha256():
    """CPython's own sha256 (no OpenSSL set-up): a container start verifies
    its image config, a few kB, with it. None where it is not built in."""
    for name in ("_sha256", "_sha2"):   # _sha2 from Python 3.12
        try:
            return __import__(name).sha256
        except ImportError:
            continue
    return None


def hasher(digest: str):
    """A fresh hash object of the digest's algorithm, to verify streamed content."""
    import hashlib
    return hashlib.new(parse(digest)[0])
