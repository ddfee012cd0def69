"""`build`'s flags (docker build's names and short forms) as a table:
click's options are made from it, and so is the click-free parse of a
plain `build` (minictr.cli.entry)."""
from __future__ import annotations

from minictr.cli.flag_table import CHOICE, FLAG, MULTI, TEXT, Flag

BUILD_FLAGS = [
    Flag(("-t", "--tag"), MULTI, "Name and optionally a tag (name:tag)", dest="tags"),
    Flag(("-f", "--file"), TEXT, "Name of the Dockerfile (default: PATH/Dockerfile)", default="", dest="dockerfile"),
    Flag(("--build-arg",), MULTI, "Set build-time variables", dest="build_args"),
    Flag(("--target",), TEXT, "Set the target build stage to build", default=""),
    Flag(("--no-cache",), FLAG, "Do not use cache when building the image"),
    Flag(("--no-cache-filter",), MULTI, "Do not cache specified stages"),
    Flag(("--network",), TEXT, "Set the networking mode for the RUN instructions", default="bridge"),
    Flag(("--add-host",), MULTI, "Add a custom host-to-IP mapping (host:ip)", dest="add_hosts"),
    Flag(("--label",), MULTI, "Set metadata for an image", dest="labels"),
    Flag(("--build-context",), MULTI, "Additional build contexts: NAME=DIR or NAME=docker-image://REF",
         dest="build_contexts"),
    Flag(("--secret",), MULTI, "Secret to expose to the build: id=mysecret[,src=/local/secret|env=VAR]",
         dest="secrets"),
    Flag(("-q", "--quiet"), FLAG, "Suppress the build output and print image ID on success"),
    Flag(("--progress",), CHOICE, "Set type of progress output", default="auto",
         choices=("auto", "plain", "tty", "quiet")),
    Flag(("--iidfile",), TEXT, "Write the image ID to the file", default=""),
    Flag(("-o", "--output"), MULTI, "Output destination (type=docker|oci,dest=FILE; type=local,dest=DIR; DIR; "
         "type=image,compression=zstd[,force-compression=true])", dest="outputs"),
    Flag(("--compression",), CHOICE, "Compression of the image's layers (default gzip; zstd gives an OCI manifest)",
         default=None, choices=("gzip", "zstd")),
    Flag(("--platform",), TEXT, "Set the target platform for the build (this host's only)", default=""),
    Flag(("--pull",), CHOICE, "Pull the base images: missing ones (default), always, never", default="missing",
         dest="pull_policy", choices=("missing", "always", "never")),
]
