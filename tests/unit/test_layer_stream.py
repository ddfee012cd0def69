"""Layer blobs to uncompressed tar streams: codec by media type, by magic
when the media type says nothing, and clear errors for bad data."""
import bz2
import gzip
import io
import lzma
import os
import sys
import threading
import time
from pathlib import Path

import pytest
import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.layers import file, tar_bytes  # noqa: E402

from minictr.image.errors import ImageError  # noqa: E402
from minictr.image.layer_stream import (GZIP, TAR, ZSTD, GzipStream, LayerStreamError, ReadAhead,  # noqa: E402
                                        codec_of, open_layer, sniff)

OCI = "application/vnd.oci.image.layer.v1.tar"
TAR_DATA = tar_bytes([file("etc/hostname", b"minictr\n"), file("big", os.urandom(3000) * 700)])


def read_all(stream, n=1 << 16) -> bytes:
    parts = []
    while chunk := stream.read(n):
        parts.append(chunk)
    return b"".join(parts)


def compress(codec: str, data: bytes) -> bytes:
    return {"gzip": lambda: gzip.compress(data), "zstd": lambda: zstandard.ZstdCompressor().compress(data),
            "xz": lambda: lzma.compress(data), "bzip2": lambda: bz2.compress(data), "tar": lambda: data}[codec]()


@pytest.mark.parametrize("media_type,codec", [
    (OCI, "tar"), (OCI + "+gzip", "gzip"), (OCI + "+zstd", "zstd"),
    ("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", "gzip"),
    ("application/vnd.docker.image.rootfs.diff.tar.gzip", "gzip"),
    ("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "gzip"),
    ("application/vnd.docker.image.rootfs.diff.tar", "tar"),
])
def test_codec_by_media_type(media_type, codec):
    assert codec_of(media_type) == codec
    assert read_all(open_layer(io.BytesIO(compress(codec, TAR_DATA)), media_type)) == TAR_DATA


@pytest.mark.parametrize("codec", ["gzip", "zstd", "xz", "bzip2", "tar"])
@pytest.mark.parametrize("media_type", ["", "application/octet-stream"])
def test_codec_by_magic_when_media_type_says_nothing(codec, media_type):
    blob = compress(codec, TAR_DATA)
    assert sniff(blob[:512]) == codec
    assert read_all(open_layer(io.BytesIO(blob), media_type)) == TAR_DATA


def test_bytes_win_over_a_contradicting_media_type():
    # a bare tar labelled +gzip (seen in the wild) unpacks, as in docker and containerd
    assert read_all(open_layer(io.BytesIO(TAR_DATA), OCI + "+gzip")) == TAR_DATA
    assert read_all(open_layer(io.BytesIO(gzip.compress(TAR_DATA)), OCI)) == TAR_DATA


def test_unknown_bytes_and_media_type_are_read_as_tar():
    assert codec_of("application/x-whatever") is None and sniff(b"\0" * 512) is None
    assert read_all(open_layer(io.BytesIO(b"\0" * 1024), "application/x-whatever")) == b"\0" * 1024


def test_truncated_gzip_is_a_clear_error():
    blob = gzip.compress(TAR_DATA)
    with pytest.raises(LayerStreamError, match="sha256:abc: gzip data truncated") as err:
        read_all(open_layer(io.BytesIO(blob[:len(blob) // 2]), OCI + "+gzip", what="sha256:abc"))
    assert isinstance(err.value, ImageError)


def test_corrupt_gzip_is_a_clear_error():
    blob = bytearray(gzip.compress(TAR_DATA))
    blob[len(blob) // 2] ^= 0xFF
    blob[len(blob) // 2 + 1] ^= 0xFF
    with pytest.raises(LayerStreamError, match="corrupt gzip data"):
        read_all(open_layer(io.BytesIO(bytes(blob)), OCI + "+gzip"))


def test_gzip_with_a_wrong_trailer_checksum_is_refused():
    blob = bytearray(gzip.compress(TAR_DATA))
    blob[-8] ^= 0xFF  # CRC32 of the member
    with pytest.raises(LayerStreamError, match="corrupt gzip data"):
        read_all(open_layer(io.BytesIO(bytes(blob)), OCI + "+gzip"))


def test_gzip_multiple_members_and_zero_padding():
    half = len(TAR_DATA) // 2
    blob = gzip.compress(TAR_DATA[:half]) + gzip.compress(TAR_DATA[half:]) + b"\0" * 700
    assert read_all(open_layer(io.BytesIO(blob), OCI + "+gzip"), 4096) == TAR_DATA


def test_gzip_garbage_after_a_member_is_refused():
    with pytest.raises(LayerStreamError, match="not gzip data"):
        read_all(GzipStream(io.BytesIO(gzip.compress(TAR_DATA) + b"garbage")))


def test_empty_gzip_blob_is_refused():
    with pytest.raises(LayerStreamError, match="empty gzip"):
        read_all(open_layer(io.BytesIO(b""), OCI + "+gzip"))


def test_zstd_multiple_frames_are_read_across():
    z = zstandard.ZstdCompressor()
    half = len(TAR_DATA) // 2
    blob = z.compress(TAR_DATA[:half]) + z.compress(TAR_DATA[half:])
    assert read_all(open_layer(io.BytesIO(blob), OCI + "+zstd")) == TAR_DATA


def test_corrupt_zstd_is_a_clear_error():
    blob = bytearray(zstandard.ZstdCompressor().compress(TAR_DATA))
    for i in range(4, 40):  # the frame header and first block header
        blob[i] ^= 0x5A
    with pytest.raises(LayerStreamError, match="corrupt zstd data"):
        read_all(open_layer(io.BytesIO(bytes(blob)), OCI + "+zstd"))


def test_reads_hand_out_at_most_what_was_asked():
    stream = open_layer(io.BytesIO(gzip.compress(TAR_DATA)), OCI + "+gzip")
    sizes = []
    while chunk := stream.read(1000):
        sizes.append(len(chunk))
    assert max(sizes) <= 1000 and sum(sizes) == len(TAR_DATA)


def test_read_ahead_gives_the_same_bytes():
    for codec, media_type in ((GZIP, OCI + "+gzip"), (ZSTD, OCI + "+zstd"), (TAR, OCI)):
        stream = open_layer(io.BytesIO(compress(codec, TAR_DATA)), media_type, read_ahead=True)
        try:
            assert read_all(stream, 777) == TAR_DATA
        finally:
            stream.close()


def test_read_ahead_raises_the_readers_error_in_the_consumer():
    blob = gzip.compress(TAR_DATA)
    stream = open_layer(io.BytesIO(blob[:len(blob) // 2]), OCI + "+gzip", read_ahead=True)
    with pytest.raises(LayerStreamError, match="truncated"):
        read_all(stream)
    stream.close()


@pytest.mark.parametrize("how", ["close", "drop"])
def test_read_ahead_thread_stops_when_closed_or_dropped_midway(how):
    class Endless:
        def read(self, n):
            return b"x" * n
    before = threading.active_count()
    stream = ReadAhead(Endless(), chunk=1 << 16, depth=2)
    stream.read(10)
    if how == "close":
        stream.close()
    del stream
    for _ in range(50):
        if threading.active_count() == before:
            break
        time.sleep(0.1)
    assert threading.active_count() == before


def test_source_errors_pass_through_unchanged():
    # a dropped connection must stay an OSError (the puller retries those)
    class Broken:
        calls = 0

        def read(self, n):
            Broken.calls += 1
            if Broken.calls > 1:
                raise ConnectionResetError("peer went away")
            return gzip.compress(TAR_DATA)[:n]
    with pytest.raises(ConnectionResetError):
        read_all(open_layer(Broken(), OCI + "+gzip"))
