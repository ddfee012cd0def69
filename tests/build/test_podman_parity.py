"""The corpus (tests/build/corpus/*/Dockerfile with its context), built by
minictr, by `docker build` (BuildKit, a private dockerd) and by `podman
build` (buildah, with runc): the image configs (and the history's
empty_layer flags) and the whole file trees must match. A difference
prints a table of what differs. docker is the reference: where podman
differs from docker, the test prints it and says so (PODMAN_DIFFERS for
when docker cannot run here); podman's own io.buildah.version label is
left out."""
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support import engines  # noqa: E402

pytestmark = pytest.mark.root

CORPUS = Path(__file__).with_name("corpus")
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "Dockerfile").exists())
CONFIG_KEYS = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes", "Labels", "StopSignal",
               "Healthcheck", "Shell", "OnBuild")
# what the runtime puts in every container, not the image
RUNTIME_PATHS = {"etc/hosts", "etc/hostname", "etc/resolv.conf", "etc/mtab", "run/.containerenv", ".dockerenv"}
RUNTIME_DIRS = ("dev", "proc", "sys", "run")
PODMAN_LABELS = {"io.buildah.version"}   # buildah labels every image it builds; docker does not
# where podman (buildah 1.28) is known to differ from docker: docker's result is the reference
PODMAN_DIFFERS = {
    ("shell-form", "config.Cmd"): "docker runs a shell-form CMD through SHELL; buildah through /bin/sh -c",
    ("shell-form", "config.Entrypoint"): "docker runs a shell-form ENTRYPOINT through SHELL; buildah through /bin/sh -c",
}


@pytest.fixture(scope="module")
def podman(tmp_path_factory):
    for tool in ("podman", "runc"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (apt install podman runc)")
    import tempfile
    short = Path(tempfile.mkdtemp(prefix="pb-", dir="/tmp"))   # podman wants a runroot under 50 characters
    engine, cleanup = engines.podman(short, shutil.which("runc"))
    engine("tag", engines.IMAGE, "docker.io/library/busybox:latest")   # FROM busybox, as in minictr's store
    try:
        yield engine
    finally:
        cleanup()


def tree_of(tar_bytes: bytes) -> dict[str, tuple]:
    """path -> (type, mode, uid, gid, size, link target, content sha256) of an exported container."""
    out = {}
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        for m in tar:
            name = m.name.removeprefix("./").strip("/")
            if not name or name in RUNTIME_PATHS or name.split("/")[0] in RUNTIME_DIRS:
                continue
            digest = ""
            if m.isreg():
                digest = hashlib.sha256(tar.extractfile(m).read()).hexdigest()[:16]
            kind = "f" if m.isreg() else "d" if m.isdir() else "l" if m.issym() else "h" if m.islnk() else m.type
            out[name] = (kind, oct(m.mode & 0o7777), m.uid, m.gid, m.size if m.isreg() else 0, m.linkname, digest)
    if "etc" in out and not any(n.startswith("etc/") for n in out):
        del out["etc"]   # made by the engine for the files above (FROM scratch), not by the image
    return out


def config_of_archive(archive: bytes) -> dict:
    """The image config document inside a docker archive (`save`)."""
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        (entry,) = json.load(tar.extractfile("manifest.json"))
        return json.load(tar.extractfile(entry["Config"]))


def result(cli: list[str], env: dict, tag: str, save_args: tuple = ()) -> tuple[dict, list, dict]:
    """(Config, empty_layer flags of the history, file tree) of a built image."""
    name = "parity-" + tag.replace("localhost/", "").replace(":", "-").replace("/", "-")
    run = lambda *args: subprocess.run([*cli, *args], env=env, capture_output=True, check=True, timeout=300).stdout
    doc = config_of_archive(run("save", *save_args, tag))
    run("create", "--pull=never", "--name", name, "--network", "none", tag, "true")   # never a registry
    try:
        exported = run("export", name)
    finally:
        subprocess.run([*cli, "rm", "-f", name], env=env, capture_output=True, timeout=120)
    return doc.get("config") or {}, [bool(h.get("empty_layer")) for h in doc.get("history") or []], tree_of(exported)


def minictr_result(mc, case: Path, tag: str) -> tuple[dict, list, dict]:
    res = mc("build", "--network", "none", "--pull", "never", "-t", tag, str(case), timeout=300)
    assert res.returncode == 0, res.stderr
    return result([str(mc.venv_minictr)], mc.env, tag)


def podman_result(podman, case: Path, tag: str) -> tuple[dict, list, dict]:
    podman("build", "--network", "none", "--pull=never", "--format", "docker", "-t", tag, str(case), timeout=600)
    return result(podman.argv, podman.env, tag, ("--format", "docker-archive"))


def differences(mine, theirs) -> list[tuple[str, object, object]]:
    rows = []
    (mc_config, mc_history, mc_tree), (pd_config, pd_history, pd_tree) = mine, theirs
    for key in CONFIG_KEYS:
        a, b = mc_config.get(key), pd_config.get(key)
        if key == "Labels":
            b = {k: v for k, v in (b or {}).items() if k not in PODMAN_LABELS} or None
            a = a or None
        a, b = a or None, b or None   # absent, null, "" and [] all mean unset
        if a != b:
            rows.append((f"config.{key}", a, b))
    if mc_history != pd_history:
        rows.append(("history (empty_layer flags)", mc_history, pd_history))
    for path in sorted(set(mc_tree) | set(pd_tree)):
        if mc_tree.get(path) != pd_tree.get(path):
            rows.append((f"/{path}", mc_tree.get(path), pd_tree.get(path)))
    return rows


@pytest.fixture(scope="module")
def docker(tmp_path_factory):
    """A private dockerd (BuildKit builds), or None where docker cannot run here."""
    if not (shutil.which("dockerd") and shutil.which("skopeo")):
        yield None
        return
    tmp = tmp_path_factory.mktemp("docker-build")
    daemon = engines.Dockerd(tmp, shutil.which("runc"))
    try:
        engine = daemon.start()
        engines.docker_load_busybox(engine, tmp)
        engine("tag", engines.IMAGE, "busybox:latest")
        engine.env = dict(os.environ, DOCKER_BUILDKIT="1")
        yield engine
    finally:
        daemon.stop()


def docker_result(docker, case: Path, tag: str) -> tuple[dict, list, dict]:
    docker("build", "--network", "none", "-t", tag, str(case), timeout=600)
    return result(docker.argv, docker.env, tag)


@pytest.mark.parametrize("case", CASES)
def test_minictr_builds_what_docker_and_podman_build(mc, podman, docker, case):
    path = CORPUS / case
    mine = minictr_result(mc, path, f"parity-{case}:mc")
    theirs = podman_result(podman, path, f"localhost/parity-{case}:podman")
    if docker is not None:
        reference = docker_result(docker, path, f"parity-{case}:docker")
        for what, a, b in differences(theirs, reference):
            print(f"{case}: {what}: podman differs from docker (podman {a!r}, docker {b!r}); docker is the reference")
        rows = differences(mine, reference)
        who = "docker"
    else:
        rows = differences(mine, theirs)
        for what, a, b in rows:
            if (case, what) in PODMAN_DIFFERS:
                print(f"{case}: {what}: podman differs from docker ({PODMAN_DIFFERS[case, what]}); "
                      "minictr does as docker")
        rows = [r for r in rows if (case, r[0]) not in PODMAN_DIFFERS]
        who = "podman"
    if rows:
        width = max(len(r[0]) for r in rows)
        table = "\n".join(f"{what:<{width}}  minictr: {a!r}\n{'':<{width}}  {who}:  {b!r}" for what, a, b in rows)
        pytest.fail(f"{case}: {len(rows)} difference(s) from {who}\n{table}")


def test_a_built_image_saved_by_minictr_runs_in_podman(mc, podman, context, tmp_path):
    ctx = context("FROM busybox\nRUN echo 'built by minictr' > /msg\nCMD [\"cat\", \"/msg\"]\n")
    assert mc("build", "--network", "none", "-t", "handoff:1", str(ctx), timeout=300).returncode == 0
    archive = tmp_path / "handoff.tar"
    mc("save", "-o", str(archive), "handoff:1", check=True, timeout=120)
    podman("load", "-i", str(archive), timeout=300)
    image_id = mc.inspect("handoff:1")["Id"].split(":")[1]
    out = podman("run", "--rm", "--pull=never", "--network", "none", image_id, timeout=120).stdout
    assert out == "built by minictr\n"


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_a_zstd_image_saved_by_minictr_runs_in_podman(mc, podman, context, tmp_path, fmt):
    """docker-archive: the layers go out as plain tars; oci-archive: as the
    zstd blobs they are, which podman reads itself."""
    ctx = context(f"FROM busybox\nRUN echo 'zstd by minictr, {fmt}' > /msg\nCMD [\"cat\", \"/msg\"]\n")
    res = mc("build", "--pull", "never", "--network", "none", "--compression", "zstd", "-t", "handoff:zstd",
             str(ctx), timeout=300)
    assert res.returncode == 0, res.stderr
    archive = tmp_path / "handoff.tar"
    mc("save", "--format", fmt, "-o", str(archive), "handoff:zstd", check=True, timeout=120)
    podman("load", "-i", str(archive), timeout=300)
    image_id = mc.inspect("handoff:zstd")["Id"].split(":")[1]
    out = podman("run", "--rm", "--pull=never", "--network", "none", image_id, timeout=120).stdout
    assert out == f"zstd by minictr, {fmt}\n"


@pytest.mark.parametrize("dockerfile, extra", [
    # no RUN --mount from=assets here: buildah 1.28 loses the image's base files after one
    # ("unable to cleanup run mounts copier"); test_build_copy_flags.py checks minictr's
    ("FROM busybox\nCOPY --from=assets . /assets/\nCOPY --from=assets img/logo.svg /logo.svg\n", []),
    ("FROM base\nRUN echo on-base > /marker\n",
     ["--build-context", "base=docker-image://docker.io/library/busybox:latest"]),
], ids=["directory", "image"])
def test_build_contexts_as_podman_builds_them(mc, podman, context, tmp_path, dockerfile, extra):
    """--build-context (podman 4.3 has it; docker 20.10 does not): a
    directory read by COPY --from, an image in place of the one FROM
    names; the images' trees and configs match."""
    assets = tmp_path / "assets"
    (assets / "img").mkdir(parents=True)
    (assets / "img" / "logo.svg").write_text("<svg/>\n")
    (assets / "img").chmod(0o750)
    (assets / "notes.txt").write_text("notes\n")
    case = context(dockerfile)
    flags = ["--build-context", f"assets={assets}", *extra]
    res = mc("build", "--network", "none", "--pull", "never", *flags, "-t", "parity-ctx:mc", str(case), timeout=300)
    assert res.returncode == 0, res.stderr
    mine = result([str(mc.venv_minictr)], mc.env, "parity-ctx:mc")
    podman("build", "--network", "none", "--pull=never", "--format", "docker", *flags, "-t",
           "localhost/parity-ctx:podman", str(case), timeout=600)
    theirs = result(podman.argv, podman.env, "localhost/parity-ctx:podman", ("--format", "docker-archive"))
    rows = differences(mine, theirs)
    assert not rows, "\n".join(f"{what}: minictr {a!r}, podman {b!r}" for what, a, b in rows[:20])
