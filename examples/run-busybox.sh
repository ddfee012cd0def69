#!/bin/bash
# The main job for now: run a container from an OCI bundle made of the real
# busybox image (../shared/images/busybox, byte-identical to Docker Hub's) or,
# where that is absent, of the host's busybox-static.
#   examples/run-busybox.sh [command ...]     (default: a short tour)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runtime="$here/.venv/bin/minictr-runtime"
layout="$here/../shared/images/busybox/busybox-1.38.0-glibc-amd64.oci"
work="$(mktemp -d /tmp/minictr-example.XXXXXX)"
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/bundle/rootfs"
if [ -f "$layout/index.json" ]; then
    # index -> manifest -> layers, read with jq
    manifest="$(jq -r '.manifests[0].digest' "$layout/index.json" | cut -d: -f2)"
    for layer in $(jq -r '.layers[].digest' "$layout/blobs/sha256/$manifest" | cut -d: -f2); do
        tar -xzf "$layout/blobs/sha256/$layer" -C "$work/bundle/rootfs" --numeric-owner
    done
    echo "rootfs: busybox image from $layout" >&2
else
    mkdir -p "$work/bundle/rootfs/bin"
    cp /bin/busybox "$work/bundle/rootfs/bin/busybox"
    for applet in $("$work/bundle/rootfs/bin/busybox" --list); do
        ln -sf busybox "$work/bundle/rootfs/bin/$applet"
    done
    echo "rootfs: the host's busybox-static" >&2
fi

"$runtime" spec --bundle "$work/bundle"
if [ $# -eq 0 ]; then
    set -- sh -c 'echo "hello from a container: pid $$ on $(hostname)"; id; ls /'
fi
# not a terminal when run from scripts; the command given on our command line
"$here/.venv/bin/python" - "$work/bundle/config.json" "$@" <<'PY'
import json, sys
path, args = sys.argv[1], sys.argv[2:]
config = json.load(open(path))
config["process"].update(terminal=False, args=args)
json.dump(config, open(path, "w"), indent=2)
PY

"$runtime" run --bundle "$work/bundle" "example-$$"
