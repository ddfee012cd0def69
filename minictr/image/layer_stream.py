"""Decompression step of the image path: a layer blob, as stored or as it
arrives from the registry, becomes the byte stream of its uncompressed tar
(what the config's diff_id hashes and what the unpacker reads).

The codec comes from the media type (OCI and Docker spellings); when the
media type is missing or unknown, from the first bytes. When a known media
type and the bytes plainly disagree (a blob labelled +gzip that is a bare
tar), the bytes win, as they do in docker and containerd, which sniff every
layer. gzip goes through ISA-L's igzip when the `isal` package is installed
(about twice zlib's speed), else zlib; both check the gzip trailer, so a
truncated blob is an error here rather than a short tar later. `ReadAhead`
runs the decompressor in a thread so it overlaps the unpacker's Python work
(zlib, zstd and file writes all release the GIL).
"""
from __future__ import annotations

import io
import queue
import threading

from minictr.image.errors import ImageError

GZIP, ZSTD, XZ, BZIP2, TAR = "gzip", "zstd", "xz", "bzip2", "tar"

_BY_MEDIA_TYPE = {
    "application/vnd.oci.image.layer.v1.tar": TAR,
    "application/vnd.oci.image.layer.v1.tar+gzip": GZIP,
    "application/vnd.oci.image.layer.v1.tar+zstd": ZSTD,
    "application/vnd.oci.image.layer.nondistributable.v1.tar": TAR,
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": GZIP,
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": ZSTD,
    "application/vnd.docker.image.rootfs.diff.tar": TAR,
    "application/vnd.docker.image.rootfs.diff.tar.gzip": GZIP,
    "application/vnd.docker.image.rootfs.foreign.diff.tar": TAR,
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": GZIP,
    "application/vnd.docker.image.rootfs.diff.tar.zstd": ZSTD,
}
_MAGIC = ((b"\x1f\x8b", GZIP), (b"\x28\xb5\x2f\xfd", ZSTD), (b"\xfd7zXZ\x00", XZ), (b"BZh", BZIP2))
_SNIFF_BYTES = 512          # enough to see a tar's "ustar" magic at offset 257
_IN_CHUNK = 256 << 10       # compressed bytes read per call from the blob
READ_CHUNK = 1 << 20        # decompressed bytes handed out per read


class LayerStreamError(ImageError):
    """The blob is not the compressed tar it claims to be (bad or truncated data)."""


def codec_of(media_type: str) -> str | None:
    """The compression a layer media type declares, None if unknown."""
    if not media_type:
        return None
    known = _BY_MEDIA_TYPE.get(media_type)
    if known:
        return known
    for suffix, codec in (("+gzip", GZIP), (".gzip", GZIP), ("+zstd", ZSTD), (".zstd", ZSTD),
                          (".tar", TAR), ("+tar", TAR)):
        if media_type.endswith(suffix):
            return codec
    return None


def sniff(head: bytes) -> str | None:
    """The codec the first bytes show: a compression magic, TAR for a
    ustar/GNU header, None if they show nothing conclusive."""
    for magic, codec in _MAGIC:
        if head.startswith(magic):
            return codec
    if head[257:262] == b"ustar":
        return TAR
    return None


def open_layer(blob, media_type: str = "", *, what: str = "layer", read_ahead: bool = False):
    """A readable binary stream of the layer's uncompressed tar.

    `blob` is any object with read(n) (a file, a network stream). `what`
    names the layer in errors. With read_ahead, decompression runs in a
    background thread; close the returned stream when done with it."""
    head = _read_full(blob, _SNIFF_BYTES)
    declared, seen = codec_of(media_type), sniff(head)
    codec = declared
    if declared is None or (seen is not None and seen != declared):
        codec = seen or TAR
    source = _Prefixed(head, blob)
    if codec == GZIP:
        stream = GzipStream(source, what)
    elif codec == ZSTD:
        import zstandard
        stream = _Checked(zstandard.ZstdDecompressor().stream_reader(source, read_size=_IN_CHUNK,
                                                                      read_across_frames=True),
                          f"{what}: corrupt zstd data", (zstandard.ZstdError,))
    elif codec == XZ:
        import lzma
        stream = _Checked(lzma.LZMAFile(source), f"{what}: corrupt or truncated xz data",
                          (lzma.LZMAError, EOFError))
    elif codec == BZIP2:
        import bz2
        stream = _Checked(bz2.BZ2File(source), f"{what}: truncated bzip2 data", (EOFError,))
    else:
        stream = source
    return ReadAhead(stream, what) if read_ahead else stream


def _read_full(blob, n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        data = blob.read(n - got)
        if not data:
            break
        parts.append(data)
        got += len(data)
    return b"".join(parts)


class _ReadStream(io.RawIOBase):
    """A read-only stream whose subclasses implement read(n)."""

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)


class _Prefixed(_ReadStream):
    """The blob with the bytes already read for sniffing put back in front."""

    def __init__(self, head: bytes, raw):
        self._head, self._raw = head, raw

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n is None or n < 0:
                out, self._head = self._head + (self._raw.read() or b""), b""
                return out
            out, self._head = self._head[:n], self._head[n:]
            return out
        return self._raw.read(n)


class _Checked(_ReadStream):
    """A library decoder whose own exceptions become LayerStreamError
    (errors of the source itself pass through, so a caller can retry)."""

    def __init__(self, inner, message: str, errors: tuple):
        self._inner, self._message, self._errors = inner, message, errors

    def read(self, n: int = -1) -> bytes:
        try:
            return self._inner.read(n)
        except self._errors as e:
            raise LayerStreamError(f"{self._message} ({e})") from None


def _zlib():
    try:
        from isal import isal_zlib
        return isal_zlib
    except ImportError:
        import zlib
        return zlib


class GzipStream(_ReadStream):
    """gzip members (one or more, trailing NUL padding allowed) decompressed
    as a stream. The zlib/igzip decoder checks each member's CRC and length;
    a blob that ends inside a member raises LayerStreamError."""

    def __init__(self, raw, what: str = "layer"):
        self._raw, self._what = raw, what
        self._zlib = _zlib()
        self._d = None              # decoder of the member being read
        self._pending = b""         # compressed bytes not yet fed
        self._members = 0
        self._compressed = 0
        self._done = False

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            return self.readall()
        while not self._done:
            if not self._pending:
                self._pending = self._raw.read(_IN_CHUNK)
                self._compressed += len(self._pending)
                if not self._pending:
                    return self._at_eof()
            if self._d is None:
                if self._members:  # after a member: only padding or another member may follow
                    self._pending = self._pending.lstrip(b"\0")
                    if not self._pending:
                        continue
                if not self._pending.startswith(b"\x1f\x8b"[:len(self._pending)]):
                    raise LayerStreamError(f"{self._what}: not gzip data after {self._compressed} "
                                           f"compressed bytes")
                self._d = self._zlib.decompressobj(31)
            try:
                out = self._d.decompress(self._pending, n)
            except self._zlib.error as e:
                raise LayerStreamError(f"{self._what}: corrupt gzip data ({e})") from None
            self._pending = self._d.unconsumed_tail
            if self._d.eof:
                self._pending = self._d.unused_data
                self._d = None
                self._members += 1
            if out:
                return out
        return b""

    def _at_eof(self) -> bytes:
        if self._d is None:
            if not self._members:
                raise LayerStreamError(f"{self._what}: empty gzip stream")
            self._done = True
            return b""
        try:  # the decoder may still hold output for input it has consumed
            out = self._d.flush()
        except self._zlib.error as e:
            raise LayerStreamError(f"{self._what}: corrupt gzip data ({e})") from None
        if not self._d.eof:
            raise LayerStreamError(f"{self._what}: gzip data truncated (ends inside a member after "
                                   f"{self._compressed} compressed bytes)")
        self._d = None
        self._members += 1
        self._done = not out
        return out


class ReadAhead(_ReadStream):
    """Reads `stream` in a background thread, a few chunks ahead. An error
    in the reader thread is raised from the next read here. The thread
    holds no reference to this object, so dropping it (or close) stops it."""

    def __init__(self, stream, what: str = "layer", chunk: int = READ_CHUNK, depth: int = 4):
        self._queue: queue.Queue = queue.Queue(depth)
        self._stop = threading.Event()
        self._left = b""
        self._eof = False
        self._thread = threading.Thread(target=_read_ahead, args=(stream, chunk, self._queue, self._stop),
                                        name=f"read-ahead {what}", daemon=True)
        self._thread.start()

    def read(self, n: int = -1) -> bytes:
        if not self._left:
            if self._eof:
                return b""
            item = self._queue.get()
            if isinstance(item, BaseException):
                self._eof = True
                raise item
            if not item:
                self._eof = True
                return b""
            self._left = item
        if n is None or n < 0 or n >= len(self._left):
            out, self._left = self._left, b""
        else:
            out, self._left = self._left[:n], self._left[n:]
        return out

    def close(self) -> None:
        if not self.closed:
            self._stop.set()
            while True:  # unblock a reader thread waiting on a full queue
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
            self._thread.join(timeout=10)
        super().close()


def _read_ahead(stream, chunk: int, out: queue.Queue, stop: threading.Event) -> None:
    def put(item) -> None:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.2)
                return
            except queue.Full:
                continue
    try:
        while not stop.is_set():
            data = stream.read(chunk)
            put(data)
            if not data:
                return
    except BaseException as e:  # handed to the consumer, raised there
        put(e)
