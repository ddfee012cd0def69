#!/bin/bash
# The main job on a machine without internet: a local registry serves as
# Docker Hub's mirror (as dockerd's registry-mirrors, with no fallback to
# the real Docker Hub), holding `library/busybox:latest` built from Debian's
# busybox-static; then `minictr run --rm busybox echo hello` pulls it through
# the mirror and runs it.
#   examples/local-mirror.sh [command ...]      (default: echo hello)
#   examples/local-mirror.sh --stop             stop the mirror registry
# State: /var/lib/minictr-mirror (registry storage, config, pid file), or
# $MINICTR_MIRROR_STATE; port 5000 or $MINICTR_MIRROR_PORT.
# The mirror setting goes to $MINICTR_REGISTRIES_CONF if set, else to
# /etc/minictr/registries.json if that file does not exist yet; otherwise
# this script uses its own copy for the run and leaves yours alone.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
minictr="$here/.venv/bin/minictr"
state="${MINICTR_MIRROR_STATE:-/var/lib/minictr-mirror}"
port="${MINICTR_MIRROR_PORT:-5000}"
pidfile="$state/registry.pid"

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

if [ "${1:-}" = "--stop" ]; then
    if running; then kill "$(cat "$pidfile")"; fi
    rm -f "$pidfile"
    exit 0
fi
[ "$(id -u)" = 0 ] || { echo "local-mirror: run as root" >&2; exit 1; }
for tool in docker-registry skopeo umoci curl; do
    command -v "$tool" >/dev/null || { echo "local-mirror: $tool missing (bash .ci/install)" >&2; exit 1; }
done
[ -x /bin/busybox ] || { echo "local-mirror: /bin/busybox missing (apt install busybox-static)" >&2; exit 1; }

# 1. The registry, on 127.0.0.1 only.
mkdir -p "$state/storage"
if ! running; then
    cat > "$state/config.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $state/storage
http:
  addr: 127.0.0.1:$port
EOF
    docker-registry serve "$state/config.yml" >"$state/registry.log" 2>&1 &
    echo $! > "$pidfile"
    for _ in $(seq 50); do
        curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break
        sleep 0.1
    done
    curl -fs "http://127.0.0.1:$port/v2/" >/dev/null || {
        echo "local-mirror: the registry did not start, see $state/registry.log" >&2; exit 1; }
    echo "mirror: docker-registry on 127.0.0.1:$port (pid $(cat "$pidfile"))" >&2
fi

# 2. library/busybox:latest from the host's busybox-static, once.
if ! curl -fs "http://127.0.0.1:$port/v2/library/busybox/manifests/latest" \
        -H "Accept: application/vnd.oci.image.manifest.v1+json" >/dev/null; then
    work="$(mktemp -d /tmp/minictr-mirror.XXXXXX)"
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work/rootfs/bin" "$work/rootfs/tmp" "$work/rootfs/etc"
    cp /bin/busybox "$work/rootfs/bin/busybox"
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] || ln -s busybox "$work/rootfs/bin/$applet"
    done
    echo "root:x:0:0:root:/root:/bin/sh" > "$work/rootfs/etc/passwd"
    echo "root:x:0:" > "$work/rootfs/etc/group"
    chmod 1777 "$work/rootfs/tmp"
    tar --numeric-owner --owner=0 --group=0 -C "$work/rootfs" -cf "$work/layer.tar" .
    umoci init --layout "$work/oci"
    umoci new --image "$work/oci:latest"
    umoci raw add-layer --image "$work/oci:latest" --history.created_by "busybox-static from Debian" \
        "$work/layer.tar"
    umoci config --image "$work/oci:latest" --config.cmd sh --os linux --architecture "$(dpkg --print-architecture)" \
        --config.env "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    skopeo copy --quiet --dest-tls-verify=false "oci:$work/oci:latest" \
        "docker://127.0.0.1:$port/library/busybox:latest"
    echo "mirror: pushed library/busybox:latest built from $(/bin/busybox | head -1)" >&2
fi

# 3. docker.io goes to the mirror, and only there.
conf="$state/registries.json"
cat > "$conf" <<EOF
{"registry-mirrors": {"docker.io": ["http://127.0.0.1:$port"]}, "mirror-fallback": false}
EOF
if [ -n "${MINICTR_REGISTRIES_CONF:-}" ]; then
    cp "$conf" "$MINICTR_REGISTRIES_CONF"
elif [ ! -e /etc/minictr/registries.json ]; then
    mkdir -p /etc/minictr
    cp "$conf" /etc/minictr/registries.json
    echo "mirror: wrote /etc/minictr/registries.json (docker.io -> http://127.0.0.1:$port, no fallback)" >&2
elif ! cmp -s "$conf" /etc/minictr/registries.json; then
    export MINICTR_REGISTRIES_CONF="$conf"
    echo "mirror: /etc/minictr/registries.json is yours; using $conf for this run" >&2
fi

# 4. The job.
[ $# -gt 0 ] || set -- echo hello
exec "$minictr" run --rm busybox "$@"
