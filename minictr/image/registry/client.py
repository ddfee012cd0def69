"""The Distribution (OCI) v2 API, seen from a repository on a registry host:
manifests and blobs out (pull), and in (push, in upload.py).

A pull tries the host's endpoints in order (its mirrors, then the registry
itself unless fallback is off), remembering the one that answered. Every
manifest is checked against the digest it was asked by, or against the
registry's Docker-Content-Digest; blobs are checked by their reader."""
from __future__ import annotations

from minictr.image.errors import AuthError, DigestMismatch, ImageError, RegistryError
from minictr.image.registry import upload as _upload
from minictr.image.registry.blob_stream import BlobStream, verified_blob_reader
from minictr.image.registry.config import Endpoint, RegistryConfig, canonical_host
from minictr.image.registry.credentials import CredentialStore
from minictr.image.registry.errors import error_message, raise_for_status
from minictr.image.registry.transport import RetryPolicy, Transport
from minictr.oci import digest as _digest
from minictr.oci import media_types
from minictr import explain

__all__ = ["RegistryClient", "verified_blob_reader", "BlobStream"]
MAX_MANIFEST = 4 << 20  # as containerd: a manifest larger than this is hostile


def pull_scope(repo: str) -> str:
    return f"repository:{repo}:pull"


def _read_limited(resp, limit: int, what: str, host: str) -> bytes:
    data = bytearray()
    for chunk in resp.iter_content(64 << 10):
        data += chunk
        if len(data) > limit:
            raise RegistryError(f"{host}: {what} is larger than {limit} bytes; refusing it")
    return bytes(data)


def _checked_media_type(resp, data: bytes, what: str, host: str) -> str:
    header = resp.headers.get("Content-Type", "").split(";", 1)[0].strip()
    if header and header not in ("application/json", "text/plain", "application/octet-stream"):
        return header
    from minictr.oci.manifest import media_type_of
    try:
        return media_type_of(data, header)
    except ValueError as e:
        raise RegistryError(f"{host}: {what}: {e}") from None


def _verify_manifest(data: bytes, reference: str, header_digest: str | None, what: str) -> str:
    """The manifest's digest, after checking the bytes against the digest
    they were asked by and against the registry's Docker-Content-Digest."""
    if _digest.is_valid(reference):
        actual = _digest.of_bytes(data, _digest.parse(reference)[0])
        if actual != reference:
            raise DigestMismatch(what, reference, actual)
    if header_digest:
        if not _digest.is_valid(header_digest):
            raise RegistryError(f"{what}: invalid Docker-Content-Digest header {header_digest!r}")
        actual = _digest.of_bytes(data, _digest.parse(header_digest)[0])
        if actual != header_digest:
            raise DigestMismatch(f"{what} (Docker-Content-Digest)", header_digest, actual)
    return reference if _digest.is_valid(reference) else _digest.of_bytes(data)


def _asked_url(resp) -> str:
    """The URL we asked (before any redirect to blob storage)."""
    return resp.history[0].url if resp.history else resp.url


def _served_by(endpoint: Endpoint, host: str) -> str:
    return f"{canonical_host(host)}'s mirror" if endpoint.mirror else canonical_host(host)


class RegistryClient:
    """One client for all registries; holds the token cache and connections."""

    def __init__(self, config: RegistryConfig | None = None, credentials: CredentialStore | None = None,
                 transport: Transport | None = None, retry: RetryPolicy | None = None):
        self.config = config or RegistryConfig.load()
        self.credentials = credentials or CredentialStore()
        self.transport = transport or Transport(self.credentials.get, retry=retry or RetryPolicy())
        self._preferred: dict[tuple[str, str], Endpoint] = {}

    def close(self) -> None:
        self.transport.close()

    def endpoints(self, host: str) -> list[Endpoint]:
        """Where a pull from `host` goes, in order (mirrors first)."""
        return self.config.endpoints(host)

    def _on_endpoints(self, host: str, repo: str, attempt):
        """`attempt` on each endpoint until one succeeds; a failing mirror
        hands over to the next endpoint, the last one's error is raised."""
        endpoints = self.endpoints(host)
        preferred = self._preferred.get((canonical_host(host), repo))
        if preferred in endpoints:
            endpoints.remove(preferred)
            endpoints.insert(0, preferred)
        for n, endpoint in enumerate(endpoints):
            try:
                result = attempt(endpoint)
            except ImageError:
                if n == len(endpoints) - 1:
                    raise
                continue
            self._preferred[(canonical_host(host), repo)] = endpoint
            return result
        raise AssertionError("a registry host always has an endpoint")

    # -- pull -------------------------------------------------------------------

    def get_manifest(self, host: str, repo: str, reference: str,
                     accept: tuple[str, ...] | list[str] = media_types.PULL_ACCEPT) -> tuple[bytes, str, str]:
        """(bytes, media type, digest) of a manifest or index, by tag or digest."""
        sep = "@" if _digest.is_valid(reference) else ":"
        what = f"manifest {canonical_host(host)}/{repo}{sep}{reference}"

        def attempt(endpoint: Endpoint):
            resp = self.transport.request("GET", endpoint, f"/v2/{repo}/manifests/{reference}",
                                          scopes=(pull_scope(repo),), stream=True,
                                          headers={"Accept": ", ".join(accept)})
            with resp:
                raise_for_status(resp, what, endpoint.host)
                data = _read_limited(resp, MAX_MANIFEST, what, endpoint.host)
                media_type = _checked_media_type(resp, data, what, endpoint.host)
                digest = _verify_manifest(data, reference, resp.headers.get("Docker-Content-Digest"), what)
            explain.step(f"GET {_asked_url(resp)}", f"{_served_by(endpoint, host)} answers {media_type} {digest}")
            return data, media_type, digest
        return self._on_endpoints(host, repo, attempt)

    def open_blob(self, host: str, repo: str, digest: str, offset: int = 0) -> BlobStream:
        """A streaming download of a blob from `offset` (a Range request when
        resuming); redirects to blob storage are followed. Wrap it in
        `verified_blob_reader` (or hash it) before trusting the bytes."""
        _digest.parse(digest)
        what = f"blob {digest} of {canonical_host(host)}/{repo}"

        def attempt(endpoint: Endpoint) -> BlobStream:
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            resp = self.transport.request("GET", endpoint, f"/v2/{repo}/blobs/{digest}",
                                          scopes=(pull_scope(repo),), headers=headers, stream=True)
            if resp.status_code == 416:
                resp.close()
                raise RegistryError(f"{endpoint.host}: {what}: offset {offset} is past its end")
            if resp.status_code >= 400:
                with resp:
                    raise_for_status(resp, what, endpoint.host)
            if explain.enabled():
                moved = f", redirected to {resp.url.split('/')[2]}" if resp.history else ""
                explain.step(f"GET {_asked_url(resp)}", f"{_served_by(endpoint, host)} streams the blob"
                             + (f" from byte {offset}" if offset else "") + moved)
            return BlobStream(resp, digest, offset)
        return self._on_endpoints(host, repo, attempt)

    def fetch_blob(self, host: str, repo: str, digest: str, limit: int = MAX_MANIFEST) -> bytes:
        """A small blob (an image config) in memory, verified."""
        with self.open_blob(host, repo, digest) as stream:
            reader = verified_blob_reader(stream, digest)
            data = bytearray()
            while chunk := reader.read():
                data += chunk
                if len(data) > limit:
                    raise RegistryError(f"blob {digest} is larger than {limit} bytes; refusing it")
        return bytes(data)

    def list_tags(self, host: str, repo: str) -> list[str]:
        """All tags of a repository, following `Link: <…>; rel="next"` pages."""
        what = f"tags of {canonical_host(host)}/{repo}"

        def attempt(endpoint: Endpoint) -> list[str]:
            tags, path = [], f"/v2/{repo}/tags/list"
            while path:
                resp = self.transport.request("GET", endpoint, path, scopes=(pull_scope(repo),))
                raise_for_status(resp, what, endpoint.host)
                try:
                    tags += resp.json().get("tags") or []
                except (ValueError, AttributeError):
                    raise RegistryError(f"{endpoint.host}: {what}: not a JSON tag list: "
                                        f"{error_message(resp)}") from None
                path = resp.links.get("next", {}).get("url")
            return tags
        return self._on_endpoints(host, repo, attempt)

    # -- push (to the registry itself, never to a mirror) ----------------------

    def blob_exists(self, host: str, repo: str, digest: str) -> int | None:
        """The blob's size if the registry has it in `repo` (HEAD), else None."""
        return _upload.blob_exists(self.transport, self.config.upstream(host), repo, digest)

    def push_blob(self, host: str, repo: str, digest: str, fileobj, size: int, chunk_size: int | None = None,
                  mount_from: str | None = None) -> str:
        """Put a blob into `repo`; returns how: "exists" (HEAD found it),
        "mounted" (cross-repo mount from `mount_from`), or "uploaded"
        (monolithic PUT, or PATCH chunks of `chunk_size` bytes)."""
        return _upload.push_blob(self.transport, self.config.upstream(host), repo, digest, fileobj, size,
                                 chunk_size, mount_from)

    def put_manifest(self, host: str, repo: str, reference: str, data: bytes, media_type: str) -> str:
        """Store a manifest under a tag or its digest; returns its digest."""
        return _upload.put_manifest(self.transport, self.config.upstream(host), repo, reference, data,
                                    media_type)

    # -- login ------------------------------------------------------------------

    def check_credentials(self, host: str, username: str, password: str) -> None:
        """GET /v2/ on the registry with these credentials through the whole
        challenge flow; AuthError if they are refused."""
        endpoint = self.config.upstream(host)
        probe = Transport(lambda _host: (username, password), retry=self.transport.retry)
        try:
            resp = probe.request("GET", endpoint, "/v2/")
            if resp.status_code in (401, 403):
                raise AuthError(f"login to {canonical_host(host)} as {username!r} failed: "
                                f"wrong username or password ({error_message(resp) or resp.status_code})")
            raise_for_status(resp, "the API root /v2/", endpoint.host)
        finally:
            probe.close()
