"""What `minictr build` was asked to do, as the builder takes it."""
from __future__ import annotations

from minictr.records import dataclass, field


@dataclass
class BuildOptions:
    context: str                                    # the context directory
    dockerfile: str = ""                            # its path; "": <context>/Dockerfile
    tags: list = field(default_factory=list)        # normalized references
    build_args: dict = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    no_cache_filter: list = field(default_factory=list)   # stage names built without the cache
    network: str = "bridge"                         # RUN's network: bridge | none | host
    add_hosts: list = field(default_factory=list)   # [host, ip]
    labels: dict = field(default_factory=dict)
    build_contexts: dict = field(default_factory=dict)   # --build-context: name -> named_contexts.NamedContext
    secrets: dict = field(default_factory=dict)     # --secret id -> its bytes (never in a layer, key or history)
    source_date_epoch: int | None = None            # SOURCE_DATE_EPOCH: every time in the image at most this
    compression: str = ""                           # the layers': gzip | zstd ("": gzip)
    force_compression: bool = False                 # the base image's layers too
    pull: object = None                             # callable(ref): fetch a missing base image
    progress: object = None                         # build.progress.Progress
