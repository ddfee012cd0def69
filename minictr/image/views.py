"""Images as docker shows them: `image inspect` JSON, `history` entries
and the rows of `images`. Pure data out; the CLI renders it."""
from __future__ import annotations

from minictr.image.records import ImageRecord
from minictr.image.store import ImageStore
from minictr.oci import image_config
from minictr.oci import reference as _ref

# docker's container config, in its key order, with its zero values
_CONFIG_KEYS = (("Hostname", ""), ("Domainname", ""), ("User", ""), ("AttachStdin", False),
                ("AttachStdout", False), ("AttachStderr", False), ("ExposedPorts", None), ("Tty", False),
                ("OpenStdin", False), ("StdinOnce", False), ("Env", None), ("Cmd", None), ("Healthcheck", None),
                ("ArgsEscaped", None), ("Image", ""), ("Volumes", None), ("WorkingDir", ""),
                ("Entrypoint", None), ("OnBuild", None), ("Labels", None), ("StopSignal", None), ("Shell", None))


def familiar(name: str) -> str:
    return _ref.parse(name, default_tag=False).familiar()


def config_of(store: ImageStore, record: ImageRecord) -> image_config.ImageConfig:
    return image_config.parse(store.content.read(record.id), f"config of image {record.short_id}")


def docker_config(config: dict) -> dict:
    out = {}
    for key, zero in _CONFIG_KEYS:
        value = config.get(key, zero)
        if value is None and key not in config:
            if key in ("ExposedPorts", "Healthcheck", "ArgsEscaped", "StopSignal", "Shell"):
                continue  # omitempty in docker's JSON
        out[key] = value
    return out


def _rfc3339(ts: float) -> str:
    import datetime as _dt
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


def inspect(store: ImageStore, record: ImageRecord) -> dict:
    cfg = config_of(store, record)
    top = store.snapshots.path(record.layers[-1].chain_id) if record.layers else ""
    lower = ":".join(store.snapshots.lowerdirs([layer.chain_id for layer in record.layers])[1:])
    graph = {"Data": {"MergedDir": "", "UpperDir": top, "WorkDir": ""}, "Name": "overlay"}
    if lower:
        graph["Data"]["LowerDir"] = lower
    return {
        "Id": record.id,
        "RepoTags": [familiar(t) for t in record.tags],
        "RepoDigests": [familiar(d) for d in record.repo_digests],
        "Parent": "",
        "Comment": _last_comment(cfg),
        "Created": cfg.created,
        "DockerVersion": cfg.doc.get("docker_version", ""),
        "Author": cfg.author,
        "Config": docker_config(cfg.config),
        "Architecture": cfg.architecture,
        **({"Variant": cfg.variant} if cfg.variant else {}),
        "Os": cfg.os,
        "Size": record.unpacked_size,
        "GraphDriver": graph,
        "RootFS": {"Type": "layers", "Layers": list(cfg.diff_ids)},
        "Metadata": {"LastTagTime": _rfc3339(record.added_at)},
        "Descriptor": {"mediaType": record.manifest_media_type, "digest": record.manifest_digest,
                       "size": store.content.size(record.manifest_digest)
                       if store.content.has(record.manifest_digest) else 0},
    }


def _last_comment(cfg: image_config.ImageConfig) -> str:
    for entry in reversed(cfg.history):
        if isinstance(entry, dict) and entry.get("comment"):
            return entry["comment"]
    return ""


def history(store: ImageStore, record: ImageRecord) -> list[dict]:
    """Newest first, as `docker history`: the top entry carries the image
    ID, older ones `<missing>`; a layer's size goes with the entry that made it."""
    cfg = config_of(store, record)
    sizes = [layer.unpacked_size for layer in record.layers]
    entries = cfg.history or [{"created": cfg.created, "created_by": ""} for _ in record.layers]
    out, layer_index = [], 0
    for entry in entries:
        entry = entry if isinstance(entry, dict) else {}
        empty = bool(entry.get("empty_layer"))
        size = 0
        if not empty and layer_index < len(sizes):
            size = sizes[layer_index]
            layer_index += 1
        out.append({"Id": "<missing>", "Created": entry.get("created", ""), "CreatedBy": entry.get("created_by", ""),
                    "Size": size, "Comment": entry.get("comment", ""), "Tags": []})
    out.reverse()
    if out:
        out[0]["Id"] = record.id
        out[0]["Tags"] = [familiar(t) for t in record.tags]
    return out


def image_rows(records: list[ImageRecord]) -> list[dict]:
    """One row per (image, repository:tag), `<none>` for untagged images;
    the digest column comes from the repository's repo digest."""
    rows = []
    for record in records:
        digests = {}
        for d in record.repo_digests:
            repo, _, dg = d.partition("@")
            digests.setdefault(repo, dg)
        names = record.tags or [None]
        for name in names:
            if name is None:
                repo, tag = "<none>", "<none>"
                digest = next(iter(digests.values()), "<none>")
            else:
                ref = _ref.parse(name)
                repo, tag = ref.familiar_name, ref.tag or "<none>"
                digest = digests.get(ref.name, "<none>")
            rows.append({"Repository": repo, "Tag": tag, "Digest": digest, "ID": record.id,
                         "CreatedAt": record.created, "Size": record.unpacked_size,
                         "Dangling": not record.tags})
    return rows


def dumps(data) -> str:
    import json
    return json.dumps(data, indent=4)
