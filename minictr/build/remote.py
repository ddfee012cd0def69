"""ADD of an http(s) URL: the file is fetched into the build's scratch dir
(its sha256 taken on the way; --checksum must match), then added like a
context file, 0600 and root's, as docker adds a remote file; an archive
is not unpacked (docker unpacks only local ones)."""
from __future__ import annotations

import hashlib
import os
import posixpath
import tempfile
from urllib.parse import urlsplit

from minictr.build.errors import BuildError

MAX_BYTES = 8 << 30


def fetch(url: str, scratch: str, checksum: str = "", timeout: float = 60.0) -> tuple[str, str, str]:
    """(the downloaded file's path, its sha256 digest, the name docker gives it)."""
    from urllib.request import urlopen   # ADD <url> only: http.client, ssl, email...
    parsed = urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise BuildError(f"ADD {url}: only http and https URLs are fetched")
    if checksum and not checksum.startswith("sha256:"):
        raise BuildError(f"ADD --checksum={checksum}: only sha256: checksums are supported")
    os.makedirs(scratch, mode=0o700, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix="add-", dir=scratch)
    h = hashlib.sha256()
    total = 0
    try:
        with os.fdopen(fd, "wb") as out, urlopen(url, timeout=timeout) as resp:
            while chunk := resp.read(1 << 20):
                total += len(chunk)
                if total > MAX_BYTES:
                    raise BuildError(f"ADD {url}: larger than {MAX_BYTES >> 30} GiB")
                h.update(chunk)
                out.write(chunk)
            final = resp.geturl()
    except BuildError:
        os.unlink(path)
        raise
    except OSError as e:   # URLError, HTTPError, a timeout: all OSError
        os.unlink(path)
        code = getattr(e, "code", None)
        reason = f"invalid response status {code}" if isinstance(code, int) else getattr(e, "reason", None) or e
        raise BuildError(f"ADD {url}: {reason}") from None
    digest = "sha256:" + h.hexdigest()
    if checksum and checksum != digest:
        os.unlink(path)
        raise BuildError(f"ADD {url}: checksum mismatch: expected {checksum}, got {digest}")
    os.chmod(path, 0o600)
    name = posixpath.basename(urlsplit(final).path) or "__unnamed__"
    return path, digest, name
