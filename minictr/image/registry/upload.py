"""Pushing into a registry (the Distribution upload protocol):

  HEAD /v2/<repo>/blobs/<digest>                  skip a blob the registry has
  POST /v2/<repo>/blobs/uploads/?mount=&from=     cross-repo mount (201), else an upload
  POST /v2/<repo>/blobs/uploads/                  start an upload (202, Location)
  PUT  <location>?digest=                         monolithic: the whole blob at once
  PATCH <location> + Content-Range, then PUT      chunked
  PUT  /v2/<repo>/manifests/<reference>           the manifest last

Uploads are not retried by the transport (a resent body could be appended
twice); a failed push is simply run again, and the HEAD makes that cheap."""
from __future__ import annotations

from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

from minictr.image.errors import DigestMismatch, RegistryError
from minictr.image.registry.config import Endpoint
from minictr.image.registry.errors import raise_for_status
from minictr.oci import digest as _digest

OCTET_STREAM = "application/octet-stream"


def _scopes(repo: str, *extra: str) -> tuple[str, ...]:
    return (f"repository:{repo}:pull,push",) + extra


def blob_exists(transport, endpoint: Endpoint, repo: str, digest: str) -> int | None:
    _digest.parse(digest)
    resp = transport.request("HEAD", endpoint, f"/v2/{repo}/blobs/{digest}", scopes=_scopes(repo))
    with resp:
        if resp.status_code == 404:
            return None
        raise_for_status(resp, f"blob {digest} of {repo}", endpoint.host)
        length = resp.headers.get("Content-Length", "")
        return int(length) if length.isdigit() else 0


def _location(resp, what: str, host: str) -> str:
    location = resp.headers.get("Location")
    if not location:
        raise RegistryError(f"{host}: {what}: upload answer has no Location header")
    return urljoin(resp.url, location)


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


def _start(transport, endpoint: Endpoint, repo: str, digest: str, mount_from: str | None) -> str | None:
    """POST an upload (or a mount); the upload Location, or None if mounted."""
    what = f"upload of blob {digest} to {repo}"
    path, scopes = f"/v2/{repo}/blobs/uploads/", _scopes(repo)
    if mount_from:
        path += "?" + urlencode({"mount": digest, "from": mount_from})
        scopes += (f"repository:{mount_from}:pull",)
    resp = transport.request("POST", endpoint, path, scopes=scopes)
    with resp:
        raise_for_status(resp, what, endpoint.host)
        if resp.status_code == 201:
            return None
        if resp.status_code != 202:
            raise RegistryError(f"{endpoint.host}: {what}: unexpected HTTP {resp.status_code}")
        return _location(resp, what, endpoint.host)


def _finish(resp, endpoint: Endpoint, repo: str, digest: str) -> None:
    with resp:
        raise_for_status(resp, f"upload of blob {digest} to {repo}", endpoint.host)
        stored = resp.headers.get("Docker-Content-Digest")
        if stored and stored != digest:
            raise DigestMismatch(f"blob uploaded to {endpoint.host}/{repo}", digest, stored)


def _chunks(fileobj, size: int, chunk_size: int):
    offset = 0
    while offset < size:
        data = fileobj.read(min(chunk_size, size - offset))
        if not data:
            raise RegistryError(f"blob source ended at {offset} of {size} bytes")
        yield offset, data
        offset += len(data)


def push_blob(transport, endpoint: Endpoint, repo: str, digest: str, fileobj, size: int,
              chunk_size: int | None = None, mount_from: str | None = None) -> str:
    if blob_exists(transport, endpoint, repo, digest) is not None:
        return "exists"
    location = _start(transport, endpoint, repo, digest, mount_from)
    if location is None:
        return "mounted"
    scopes = _scopes(repo)
    headers = {"Content-Type": OCTET_STREAM}
    if chunk_size:
        for offset, data in _chunks(fileobj, size, chunk_size):
            content_range = {"Content-Range": f"{offset}-{offset + len(data) - 1}"}
            resp = transport.request("PATCH", endpoint, location, scopes=scopes, data=data, retry=False,
                                     headers=dict(headers, **content_range))
            with resp:
                raise_for_status(resp, f"chunk {offset} of blob {digest} to {repo}", endpoint.host)
                location = _location(resp, f"upload of blob {digest}", endpoint.host)
        body = b""  # the chunks are all there; the PUT only closes the upload
    else:
        body = fileobj  # requests sends its length as Content-Length
    resp = transport.request("PUT", endpoint, _with_query(location, digest=digest), scopes=scopes,
                             headers=headers, data=body, retry=False)
    _finish(resp, endpoint, repo, digest)
    return "uploaded"


def put_manifest(transport, endpoint: Endpoint, repo: str, reference: str, data: bytes, media_type: str) -> str:
    digest = _digest.of_bytes(data)
    if _digest.is_valid(reference) and reference != digest:
        raise DigestMismatch(f"manifest pushed as {repo}@{reference}", reference, digest)
    resp = transport.request("PUT", endpoint, f"/v2/{repo}/manifests/{reference}", scopes=_scopes(repo),
                             data=data, headers={"Content-Type": media_type})
    with resp:
        raise_for_status(resp, f"manifest {repo}:{reference}", endpoint.host)
        stored = resp.headers.get("Docker-Content-Digest")
        if stored and stored != digest:
            raise DigestMismatch(f"manifest pushed to {endpoint.host}/{repo}", digest, stored)
    return digest
