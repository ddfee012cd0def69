"""`pull`: a reference becomes an image record with every layer unpacked.

    reference -> manifest (index -> this platform's manifest) -> config
              -> layers, each streamed once: network -> ingest file (hashed)
                                                     -> decompress -> unpack
              -> image record (tag, repo digest, layers) in one transaction

Each layer is downloaded and unpacked in the same pass, several layers at
once (docker's max-concurrent-downloads is 3), because unpacking is where
the time goes. A layer's blob is verified against its digest and its
unpacked stream against the config's diff_id before its snapshot gets its
real name; a pull killed midway leaves only ingest files and temp dirs,
which the next pull resumes (the blob) or redoes (the unpack).
"""
from __future__ import annotations

import os
import time

from minictr.image.content import IngestWriter
from minictr.image.errors import DigestMismatch, ImageError
from minictr.image.layer_ingest import drain, unpack_verified
from minictr.image.progress import Progress, layer_id
from minictr.image.records import LayerRecord
from minictr.image.store import ImageStore
from minictr.oci import image_config, manifest as _manifest, media_types as mt, platform as _platform
from minictr.oci import reference as _ref
from minictr import explain
from minictr.state.locks import gc_lock

MAX_CONCURRENT_LAYERS = 3
LAYER_ATTEMPTS = 3
_CHUNK = 1 << 20


class PullResult:
    def __init__(self, ref: _ref.Reference, image_id: str, digest: str, up_to_date: bool):
        self.ref, self.image_id, self.digest, self.up_to_date = ref, image_id, digest, up_to_date


def parse_reference(text: str) -> _ref.Reference:
    try:
        return _ref.parse(text)
    except _ref.InvalidReference as e:
        raise ImageError(str(e)) from None


def _wrap_spec_error(fn, *args):
    try:
        return fn(*args)
    except (_manifest.InvalidManifest, _manifest.NoMatchingPlatform, _platform.InvalidPlatform) as e:
        raise ImageError(str(e)) from None


def pull(store: ImageStore, client, text: str, platform: str | None = None,
         progress: Progress | None = None) -> PullResult:
    progress = progress or Progress()
    ref = parse_reference(text)
    explain.step(f'parse reference "{text}"', f"{ref} (registry {ref.registry}, repository {ref.repository}, "
                 + (f"tag {ref.tag})" if ref.tag else f"digest {ref.digest})"))
    wanted = _wrap_spec_error(_platform.parse, platform) if platform else _platform.host()
    from minictr.image.gc import sweep_stale
    sweep_stale(store)
    progress.message(f"{ref.tag or ref.digest}: Pulling from {_repo_path(ref)}")
    data, media_type, top_digest = client.get_manifest(ref.registry, ref.repository, ref.reference,
                                                       accept=list(mt.PULL_ACCEPT))
    media_type = _wrap_spec_error(_manifest.media_type_of, data, media_type)
    documents = [(data, top_digest)]
    if mt.is_index(media_type):
        index = _wrap_spec_error(_manifest.parse_index, data, media_type)
        chosen = _wrap_spec_error(_manifest.select_platform, index, wanted)
        explain.step(f"select platform {wanted}", f"the index lists {len(index.manifests)} manifests; "
                     f"this host's is {chosen.digest}")
        data, media_type, digest = client.get_manifest(ref.registry, ref.repository, chosen.digest,
                                                       accept=list(mt.MANIFESTS))
        if digest != chosen.digest:
            raise DigestMismatch(f"manifest of {ref.familiar()} for {wanted}", chosen.digest, digest)
        media_type = _wrap_spec_error(_manifest.media_type_of, data, media_type or chosen.media_type)
        documents.append((data, digest))
    elif not mt.is_manifest(media_type):
        raise ImageError(f"{ref.familiar()}: unsupported manifest media type {media_type!r}")
    manifest_digest = documents[-1][1]
    man = _wrap_spec_error(_manifest.parse_manifest, data, media_type)

    with gc_lock(store.root, shared=True):
        config_bytes = _fetch_small_blob(store, client, ref, man.config, "config")
        config = _wrap_spec_error(image_config.parse, config_bytes)
        if len(config.diff_ids) != len(man.layers):
            raise ImageError(f"{ref.familiar()}: the manifest has {len(man.layers)} layers but the config "
                             f"lists {len(config.diff_ids)} diff_ids")
        if platform and len(documents) == 1 and _platform.match_rank(wanted, config.platform) is None:
            raise ImageError(f"image with reference {ref.familiar()} was found but does not match the "
                             f"specified platform: wanted {wanted}, actual: {config.platform}")
        image_id = man.config.digest
        existing = store.records.find(str(ref)) if ref.tag else None
        chain_ids = config.chain_ids()
        up_to_date = (existing is not None and existing.id == image_id
                      and all(store.snapshots.exists(c) for c in chain_ids))
        layers = _fetch_layers(store, client, ref, man, config, chain_ids, progress)
        for doc, digest in documents:
            store.content.put(doc, digest)
        store.records.add(image_id, manifest_digest, man.media_type, config.created, layers,
                          tag=str(ref) if ref.tag else None, repo_digest=(ref.name, top_digest))
        explain.step("record image", f"{image_id}: {len(layers)} layer{'s' if len(layers) != 1 else ''}"
                     + (f", tag {ref}" if ref.tag else "") + ", in one SQLite transaction")
    progress.message(f"Digest: {top_digest}")
    status = "Image is up to date" if up_to_date else "Downloaded newer image"
    progress.message(f"Status: {status} for {ref.familiar()}")
    return PullResult(ref, image_id, top_digest, up_to_date)


def _repo_path(ref: _ref.Reference) -> str:
    """What docker prints after 'Pulling from': the path, with the host
    unless it is Docker Hub."""
    return ref.repository if ref.registry == _ref.DEFAULT_REGISTRY else ref.name


def _fetch_small_blob(store: ImageStore, client, ref: _ref.Reference, desc, what: str) -> bytes:
    if store.content.has(desc.digest):
        return store.content.read(desc.digest)
    with store.content.writer(desc.digest, desc.size, f"{what} {desc.digest}") as writer:
        if not writer.complete:
            writer.reset()
            for chunk in _iter_blob(client, ref, desc.digest, 0):
                writer.write(chunk)
    return store.content.read(desc.digest)


def _iter_blob(client, ref: _ref.Reference, digest: str, offset: int):
    """The blob's bytes from `offset` (the client resumes with Range, or
    skips the head itself when a server ignores it)."""
    with client.open_blob(ref.registry, ref.repository, digest, offset=offset) as stream:
        yield from stream.iter_content(_CHUNK)


def _fetch_layers(store, client, ref, man, config, chain_ids, progress) -> list[LayerRecord]:
    for desc in man.layers:
        progress.layer(layer_id(desc.digest), "Pulling fs layer")
    jobs = []
    from concurrent.futures import ThreadPoolExecutor   # logging & co.: for a pull only, not a reference's parse
    with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_LAYERS, thread_name_prefix="pull") as pool:
        for i, desc in enumerate(man.layers):
            jobs.append(pool.submit(_ensure_layer, store, client, ref, desc, config.diff_ids[i], chain_ids[i],
                                    chain_ids[i - 1] if i else None, progress))
        sizes = [job.result() for job in jobs]
    # workers cannot use the database connection (it belongs to this thread)
    sizes = [store.records.unpacked_size_of(chain_ids[i]) if size is None else size
             for i, size in enumerate(sizes)]
    return [LayerRecord(chain_ids[i], config.diff_ids[i], desc.digest, desc.media_type, desc.size, sizes[i])
            for i, desc in enumerate(man.layers)]


def _ensure_layer(store, client, ref, desc, diff_id, chain_id, parent_chain_id, progress) -> int | None:
    """Make sure the layer's blob is stored and its snapshot unpacked;
    returns the unpacked size (None: the snapshot existed, ask the records). Retries a broken stream a few times: the
    download resumes from the ingest file, the unpack starts again."""
    lid = layer_id(desc.digest)
    have_snapshot = store.snapshots.exists(chain_id)
    if have_snapshot and store.content.has(desc.digest):
        progress.layer(lid, "Already exists")
        return None
    last_error = None
    for attempt in range(LAYER_ATTEMPTS):
        try:
            return _download_and_unpack(store, client, ref, desc, diff_id, chain_id, parent_chain_id,
                                        progress, unpack=not have_snapshot)
        except ImageError:
            raise
        except (ValueError, EOFError) as e:  # a corrupt or truncated compressed stream
            raise ImageError(f"layer {desc.digest}: {e}") from None
        except OSError as e:  # connection dropped mid-stream, disk trouble
            last_error = e
            progress.layer(lid, f"Retrying in {attempt + 1} second{'s' if attempt else ''}")
            time.sleep(attempt + 1)
    raise ImageError(f"layer {desc.digest}: download failed after {LAYER_ATTEMPTS} attempts: {last_error}")


def _download_and_unpack(store, client, ref, desc, diff_id, chain_id, parent_chain_id, progress,
                         unpack: bool) -> int | None:
    lid = layer_id(desc.digest)
    with store.content.writer(desc.digest, desc.size, f"layer {desc.digest}") as writer:
        source = _LayerSource(store, client, ref, desc, writer, progress)
        try:
            if not unpack:
                drain(source)
                progress.layer(lid, "Download complete")
                return None
            size = unpack_verified(store, source, writer, desc.digest, desc.media_type, diff_id, chain_id,
                                   parent_chain_id, on_verify=lambda: progress.layer(lid, "Verifying Checksum"))
        finally:
            source.close()
    progress.layer(lid, "Pull complete")
    return size


class _LayerSource:
    """The blob as a readable stream for the decompressor: first what an
    earlier, killed pull left in the ingest file, then the network; network
    bytes are written (and hashed) into the ingest file on the way."""

    def __init__(self, store: ImageStore, client, ref, desc, writer: IngestWriter, progress: Progress):
        self.desc, self.writer, self.progress = desc, writer, progress
        self.lid = layer_id(desc.digest)
        self.buffer = b""
        self.prefix_fd = -1
        self.prefix_pos = self.prefix_left = 0
        self.last_report = 0.0
        if writer.complete:  # stored already (e.g. by a parallel pull): read it from the store
            self.network = iter(())
            self.prefix_fd = os.open(store.content.path(desc.digest), os.O_RDONLY | os.O_CLOEXEC)
            self.prefix_left = desc.size
            return
        # a pull killed after the last byte but before the commit left it all
        whole = writer.offset >= desc.size
        self.network = iter(()) if whole else _iter_blob(client, ref, desc.digest, writer.offset)
        if writer.offset:
            self.prefix_fd = os.open(writer.ingest_path, os.O_RDONLY | os.O_CLOEXEC)
            self.prefix_left = writer.offset

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = 1 << 62
        if self.prefix_left:
            chunk = os.pread(self.prefix_fd, min(n, self.prefix_left, _CHUNK), self.prefix_pos)
            self.prefix_pos += len(chunk)
            self.prefix_left = self.prefix_left - len(chunk) if chunk else 0
            return chunk
        if not self.buffer:
            chunk = next(self.network, b"")
            if not chunk:
                return b""
            self.writer.write(chunk)
            self._report()
            self.buffer = chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def _report(self) -> None:
        now = time.monotonic()
        if now - self.last_report > 0.1 or self.writer.offset >= self.desc.size:
            self.last_report = now
            self.progress.layer(self.lid, "Downloading", self.writer.offset, self.desc.size)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if self.prefix_fd >= 0:
            os.close(self.prefix_fd)
            self.prefix_fd = -1
