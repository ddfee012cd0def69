"""Blob bytes as they arrive from a registry: a readable stream that starts
at the offset asked for (resuming a download with a Range request), and a
reader that hashes what passes through and refuses content whose digest is
not the one it was fetched by."""
from __future__ import annotations

import re

from minictr.image.errors import DigestMismatch, ImageError
from minictr.oci import digest as _digest

CHUNK = 1 << 20
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class _Readable:
    """Iteration in pieces and `with` support for a read(n)/close() object."""

    def iter_content(self, chunk_size: int = CHUNK):
        while data := self.read(chunk_size):
            yield data

    def __iter__(self):
        return self.iter_content(CHUNK)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class BlobStream(_Readable):
    """An open blob download, usable like the requests.Response it wraps
    (status_code, headers, iter_content, close) and like a file (read).
    The bytes start at `offset`, the one asked for, even when the server
    ignored Range and answered 200 with everything: the head is then
    skipped here. `size` is the whole blob's size if the server said."""

    def __init__(self, response, digest: str, offset: int = 0):
        self.response, self.digest, self.offset = response, digest, offset
        self.size: int | None = None
        length = response.headers.get("Content-Length")
        if response.status_code == 206:
            match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
            if not match or int(match.group(1)) != offset:
                response.close()
                raise ImageError(f"blob {digest}: registry answered Range bytes={offset}- with "
                                 f"Content-Range {response.headers.get('Content-Range')!r}")
            self.size = int(match.group(3)) if match.group(3) != "*" else None
        else:
            self.size = int(length) if length and length.isdigit() else None
            self._discard(offset)

    def _discard(self, count: int) -> None:
        while count > 0:
            data = self.read(min(count, CHUNK))
            if not data:
                raise ImageError(f"blob {self.digest}: ended before offset {self.offset}")
            count -= len(data)

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def headers(self):
        return self.response.headers

    def read(self, n: int = CHUNK) -> bytes:
        """Up to n bytes; b"" at the end. A connection that breaks mid-blob
        raises ConnectionError (an OSError), so callers may resume."""
        from urllib3.exceptions import HTTPError as TransferError
        try:
            # decode_content undoes an HTTP Content-Encoding only, never the blob's own gzip.
            return self.response.raw.read(n, decode_content=True)
        except TransferError as e:
            raise ConnectionError(f"blob {self.digest}: download broken: {e}") from None

    def close(self) -> None:
        self.response.close()


class VerifiedReader(_Readable):
    """Reads from `source` (anything with read(n)), hashing as it goes; at the
    end raises DigestMismatch unless the bytes hash to `digest`. `hasher` may
    carry the hash of bytes already held (a resumed download), `size` the
    expected total length, which is also enforced."""

    def __init__(self, source, digest: str, size: int | None = None, hasher=None, already: int = 0):
        self.source, self.digest, self.size = source, digest, size
        self.hasher = hasher or _digest.hasher(digest)
        self.count = already
        self.verified = False

    def read(self, n: int = CHUNK) -> bytes:
        data = self.source.read(n)
        if data:
            self.hasher.update(data)
            self.count += len(data)
            if self.size is not None and self.count > self.size:
                raise DigestMismatch(f"blob {self.digest} (longer than its {self.size} bytes)",
                                     self.digest, "more bytes than expected")
            return data
        if not self.verified:
            self._verify()
        return data

    def _verify(self) -> None:
        actual = f"{_digest.parse(self.digest)[0]}:{self.hasher.hexdigest()}"
        if actual != self.digest:
            raise DigestMismatch(f"blob {self.digest}", self.digest, actual)
        if self.size is not None and self.count != self.size:
            raise DigestMismatch(f"blob {self.digest} ({self.count} of {self.size} bytes)",
                                 self.digest, actual)
        self.verified = True

    def close(self) -> None:
        if hasattr(self.source, "close"):
            self.source.close()


def verified_blob_reader(source, digest: str, size: int | None = None, hasher=None,
                         already: int = 0) -> VerifiedReader:
    """Wrap a blob stream so its digest is checked at EOF (see VerifiedReader)."""
    return VerifiedReader(source, digest, size, hasher, already)
