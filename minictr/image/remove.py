"""`rmi`: untag, then delete an image nobody else names or uses, as
docker's image_delete does it.

Removing by name untags that name (and, when it was the repository's last
tag, the repository's digest references); the image itself goes once no
name points at it. Removing by ID untags everything, but refuses an image
named in several repositories unless forced. An image a container holds
a lease on is never deleted; forced, it only loses its names.
"""
from __future__ import annotations

from minictr.image import gc
from minictr.image.errors import ImageError
from minictr.image.records import ImageRecord
from minictr.image.store import ImageStore
from minictr.oci import reference as _ref
from minictr.state.locks import gc_lock


class ImageConflict(ImageError):
    pass


def _repo_of(name: str) -> str:
    """`docker.io/library/busybox:latest` or `...@sha256:..` -> the repository."""
    return name.split("@", 1)[0] if "@" in name else name.rsplit(":", 1)[0]


def _familiar(name: str) -> str:
    return _ref.parse(name, default_tag=False).familiar()


def remove_image(store: ImageStore, name: str, force: bool = False,
                 collect_blobs: bool = True) -> list[tuple[str, str]]:
    """Returns docker's report lines as (verb, what): Untagged/Deleted.
    collect_blobs=False leaves unreferenced blobs to a later gc.collect."""
    record = store.records.lookup(name)
    by_reference = _names_reference(store, name, record)
    report: list[tuple[str, str]] = []
    holders = store.records.lease_holders(record.id)
    if by_reference:
        ref = _ref.parse(name)
        if holders and not force:
            raise ImageConflict(f'conflict: unable to remove repository reference "{name}" (must force) - '
                                f"{holders[0]} is using its referenced image {record.short_id}")
        if ref.digest:
            store.records.remove_repo_digests_exact(record.id, ref.name, ref.digest)
        else:
            store.records.untag(str(ref))
        report.append(("Untagged", ref.familiar()))
        record = store.records.get(record.id)
        if not ref.digest and not any(_repo_of(t) == ref.name for t in record.tags):
            for digest_ref in [d for d in record.repo_digests if _repo_of(d) == ref.name]:
                report.append(("Untagged", _familiar(digest_ref)))
            store.records.remove_repo_digests(record.id, ref.name)
            record = store.records.get(record.id)
        if record.tags or record.repo_digests:
            return report
    else:
        repos = {_repo_of(n) for n in record.tags + record.repo_digests}
        if len(repos) > 1 and not force:
            raise ImageConflict(f"conflict: unable to delete {record.short_id} (must be forced) - "
                                f"image is referenced in multiple repositories")
        if holders and not force:
            raise ImageConflict(f"conflict: unable to delete {record.short_id} (must be forced) - "
                                f"image is being used by {holders[0]}")
        for tag in record.tags:
            store.records.untag(tag)
            report.append(("Untagged", _familiar(tag)))
        for digest_ref in record.repo_digests:
            report.append(("Untagged", _familiar(digest_ref)))
        for repo in repos:
            store.records.remove_repo_digests(record.id, repo)
    if holders:
        return report  # forced: names gone, the image stays for its users
    report += _delete(store, record, collect_blobs)
    return report


def _names_reference(store: ImageStore, name: str, record: ImageRecord) -> bool:
    """Did `name` resolve as a tag or digest reference (not an ID prefix)?"""
    try:
        ref = _ref.parse(name)
    except _ref.InvalidReference:
        return False
    if ref.digest:
        return f"{ref.name}@{ref.digest}" in record.repo_digests
    return str(ref) in record.tags


def _delete(store: ImageStore, record: ImageRecord, collect_blobs: bool) -> list[tuple[str, str]]:
    with gc_lock(store.root, shared=False):
        store.records.remove(record.id)
        report = [("Deleted", record.id)]
        in_use = store.records.referenced_chain_ids()
        for layer in reversed(record.layers):
            if layer.chain_id not in in_use and store.snapshots.exists(layer.chain_id):
                store.snapshots.remove(layer.chain_id)
                report.append(("Deleted", layer.chain_id))
        if collect_blobs:
            gc.remove_unreferenced_blobs(store)
    return report
