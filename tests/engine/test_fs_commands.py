"""A container's files as docker users reach them: diff, cp (both ways,
docker's path rules, tar streams, ownership, and symlinks planted in the
container that must never lead to the host), export and commit."""
import io
import os
import stat
import subprocess
import tarfile

import pytest
from support.engine_cli import VENV_BIN

pytestmark = pytest.mark.root


def _mounted_under(mc) -> list[str]:
    root = str(mc.root)
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(root)]


@pytest.fixture
def box(mc):
    """A running busybox named after the test; removed after it."""
    made = []

    def make(name: str, *args: str) -> str:
        mc.run_detached("--name", name, "--network", "none", *args, "busybox", "sleep", "600")
        made.append(name)
        return name
    yield make
    if made:
        mc("rm", "-f", *made, timeout=60)


# -- diff ----------------------------------------------------------------------

def test_diff_shows_an_added_file_under_its_changed_directory(mc, box):
    c = box("dfadd")
    assert mc("diff", c, check=True).stdout == ""
    mc("exec", c, "sh", "-c", "echo hello > /tmp/hello.txt", check=True)
    assert mc("diff", c, check=True).stdout.splitlines() == ["C /tmp", "A /tmp/hello.txt"]


def test_diff_reports_a_deleted_image_file_and_changed_ones(mc, box):
    c = box("dfdel")
    mc("exec", c, "sh", "-c", "rm /bin/zcat; echo x >> /etc/passwd", check=True)
    assert mc("diff", c, check=True).stdout.splitlines() == ["C /bin", "D /bin/zcat", "C /etc", "C /etc/passwd"]
    mc("stop", "-t", "0", c, check=True, timeout=30)
    assert mc("container", "diff", c, check=True).stdout.splitlines()[1] == "D /bin/zcat"


def test_diff_of_a_replaced_directory_deletes_what_the_image_had_there(mc, box):
    c = box("dfopq")
    mc("exec", c, "sh", "-c", "rm -rf /var && mkdir /var && touch /var/new", check=True)
    assert mc("diff", c, check=True).stdout.splitlines() == ["C /var", "A /var/new", "D /var/spool", "D /var/www"]


def test_lower_view_follows_whiteouts_and_opaque_dirs_across_layers(tmp_path):
    from minictr.engine.diff import LowerView
    base, mid = tmp_path / "base", tmp_path / "mid"
    (base / "a").mkdir(parents=True)
    (base / "a" / "x").write_text("")
    (base / "a" / "y").write_text("")
    (base / "b").mkdir()
    (base / "b" / "z").write_text("")
    (mid / "a").mkdir(parents=True)
    os.mknod(mid / "a" / "x", stat.S_IFCHR, 0)                  # whiteout of /a/x
    (mid / "b").mkdir()
    try:
        os.setxattr(mid / "b", "trusted.overlay.opaque", b"y")   # /b replaced: base's /b/z hidden
    except OSError as e:
        pytest.skip(f"trusted xattrs on {tmp_path}: {e}")
    (mid / "b" / "new").write_text("")
    (mid / "link").symlink_to("/")                               # never followed
    view = LowerView([str(mid), str(base)])
    assert view.lstat("/a/x") is None and view.lstat("/a/y") is not None
    assert view.lstat("/b/z") is None and view.lstat("/b/new") is not None
    assert view.children("/a") == {"y"} and view.children("/b") == {"new"}
    assert view.children("/") == {"a", "b", "link"}
    assert view.lstat("/link/etc/passwd") is None and view.lstat("/nothing") is None


def test_diff_of_an_unknown_container(mc):
    res = mc("diff", "no-such-box")
    assert res.returncode != 0 and res.stderr.strip() == "Error: No such container: no-such-box"


# -- cp ------------------------------------------------------------------------

def test_cp_a_file_out_and_in(mc, box, tmp_path):
    c = box("cpfile")
    mc("exec", c, "sh", "-c", "echo from-container > /tmp/out.txt", check=True)
    mc("cp", f"{c}:/tmp/out.txt", str(tmp_path / "copied.txt"), check=True)
    assert (tmp_path / "copied.txt").read_text() == "from-container\n"
    mc("cp", f"{c}:/tmp/out.txt", str(tmp_path), check=True)               # into a directory: its basename
    assert (tmp_path / "out.txt").read_text() == "from-container\n"
    (tmp_path / "in.txt").write_text("from-host\n")
    os.chmod(tmp_path / "in.txt", 0o640)
    mc("cp", str(tmp_path / "in.txt"), f"{c}:/tmp/", check=True)
    assert mc("exec", c, "cat", "/tmp/in.txt", check=True).stdout == "from-host\n"
    assert mc("exec", c, "stat", "-c", "%a %u:%g", "/tmp/in.txt", check=True).stdout.split() == ["640", "0:0"]
    mc("cp", str(tmp_path / "in.txt"), f"{c}:/tmp/out.txt", check=True)    # onto a file: overwritten
    assert mc("exec", c, "cat", "/tmp/out.txt", check=True).stdout == "from-host\n"
    mc("cp", str(tmp_path / "in.txt"), f"{c}:tmp/renamed.txt", check=True)  # relative: from the root
    assert mc("exec", c, "cat", "/tmp/renamed.txt", check=True).stdout == "from-host\n"


def test_cp_directories_with_dockers_trailing_rules(mc, box, tmp_path):
    c = box("cpdir")
    mc("exec", c, "sh", "-c", "mkdir -p /data/sub && echo a > /data/a && echo b > /data/sub/b "
                              "&& ln -s a /data/link", check=True)
    mc("cp", f"{c}:/data", str(tmp_path / "new"), check=True)                # missing dest: created
    assert (tmp_path / "new" / "sub" / "b").read_text() == "b\n"
    assert os.readlink(tmp_path / "new" / "link") == "a"
    (tmp_path / "existing").mkdir()
    mc("cp", f"{c}:/data", str(tmp_path / "existing"), check=True)           # into it
    assert (tmp_path / "existing" / "data" / "a").read_text() == "a\n"
    (tmp_path / "contents").mkdir()
    mc("cp", f"{c}:/data/.", str(tmp_path / "contents"), check=True)         # /. : the content
    assert sorted(os.listdir(tmp_path / "contents")) == ["a", "link", "sub"]
    (tmp_path / "hostdir" / "deep").mkdir(parents=True)
    (tmp_path / "hostdir" / "deep" / "f").write_text("deep\n")
    mc("cp", str(tmp_path / "hostdir"), f"{c}:/data", check=True)
    assert mc("exec", c, "cat", "/data/hostdir/deep/f", check=True).stdout == "deep\n"
    res = mc("cp", f"{c}:/data/a/", str(tmp_path / "x"))
    assert res.returncode != 0 and "not a directory" in res.stderr
    (tmp_path / "plain").write_text("")
    res = mc("cp", f"{c}:/data", str(tmp_path / "plain"))
    assert res.returncode != 0 and "cannot copy a directory to a file" in res.stderr


def _raw(mc, *args: str, data: bytes = b"") -> subprocess.CompletedProcess:
    """The CLI with bytes in and out (tar streams)."""
    return subprocess.run([str(VENV_BIN / "minictr"), *args], env=mc.env, input=data, capture_output=True,
                          timeout=60)


def _tar(*members: tuple[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_cp_tar_streams_on_stdin_and_stdout(mc, box):
    c = box("cptar")
    mc("exec", c, "sh", "-c", "mkdir /d && echo one > /d/one", check=True)
    res = _raw(mc, "cp", f"{c}:/d", "-")
    assert res.returncode == 0, res.stderr
    with tarfile.open(fileobj=io.BytesIO(res.stdout)) as tar:
        assert sorted(tar.getnames()) == ["d", "d/one"]
        assert tar.extractfile("d/one").read() == b"one\n"
    res = _raw(mc, "cp", "-", f"{c}:/d", data=_tar(("sub/streamed.txt", b"streamed\n")))
    assert res.returncode == 0, res.stderr
    assert mc("exec", c, "cat", "/d/sub/streamed.txt", check=True).stdout == "streamed\n"
    res = _raw(mc, "cp", "-", f"{c}:/d", data=_tar(("../../escape.txt", b"")))
    assert res.returncode != 0 and b"'..'" in res.stderr
    res = _raw(mc, "cp", "-", f"{c}:/d/one", data=_tar(("x", b"")))
    assert res.returncode != 0 and b"extraction point is not a directory" in res.stderr


def test_cp_archive_mode_keeps_owners(mc, box, tmp_path):
    c = box("cpown")
    mc("exec", c, "sh", "-c", "echo x > /tmp/owned && chown 1234:5678 /tmp/owned", check=True)
    mc("cp", f"{c}:/tmp/owned", str(tmp_path / "plain"), check=True)
    mc("cp", "-a", f"{c}:/tmp/owned", str(tmp_path / "kept"), check=True)
    assert (os.stat(tmp_path / "plain").st_uid, os.stat(tmp_path / "plain").st_gid) == (os.getuid(), os.getgid())
    assert (os.stat(tmp_path / "kept").st_uid, os.stat(tmp_path / "kept").st_gid) == (1234, 5678)
    (tmp_path / "hostfile").write_text("h\n")
    os.chown(tmp_path / "hostfile", 4321, 8765)
    mc("cp", str(tmp_path / "hostfile"), f"{c}:/tmp/as-root", check=True)
    mc("cp", "-a", str(tmp_path / "hostfile"), f"{c}:/tmp/as-is", check=True)
    assert mc("exec", c, "stat", "-c", "%u:%g", "/tmp/as-root", check=True).stdout.strip() == "0:0"
    assert mc("exec", c, "stat", "-c", "%u:%g", "/tmp/as-is", check=True).stdout.strip() == "4321:8765"


def test_cp_with_a_stopped_container_leaves_nothing_mounted(mc, tmp_path):
    mc("run", "--name", "cpstopped", "--network", "none", "busybox", "sh", "-c", "echo kept > /kept", check=True)
    mounted = _mounted_under(mc)
    mc("cp", "cpstopped:/kept", str(tmp_path / "kept"), check=True)
    assert (tmp_path / "kept").read_text() == "kept\n"
    (tmp_path / "new").write_text("new\n")
    mc("cp", str(tmp_path / "new"), "cpstopped:/new", check=True)
    assert _mounted_under(mc) == mounted
    mc("start", "cpstopped", check=True)
    mc("wait", "cpstopped", check=True, timeout=30)
    assert "A /new" in mc("diff", "cpstopped", check=True).stdout.splitlines()
    mc("rm", "cpstopped", check=True)


def test_cp_never_follows_a_container_symlink_to_the_host(mc, box, tmp_path):
    canary_dir = tmp_path / "canary"
    canary_dir.mkdir()
    canary = canary_dir / "canary.txt"
    canary.write_text("host secret\n")
    before = sorted(os.listdir(canary_dir))
    c = box("cphostile")
    mc("exec", c, "sh", "-c",
       f"echo container-shadow > /etc/shadow-ish; ln -s / /rootlink; ln -s ../../../../../../.. /uplink; "
       f"ln -s {canary_dir} /abslink; ln -s ../../../../../../../..{canary_dir} /rellink; "
       f"ln -s {canary} /filelink", check=True)
    # reading through links: the container's own files, never the host's
    for link in ("rootlink", "uplink"):
        mc("cp", f"{c}:/{link}/etc/shadow-ish", str(tmp_path / f"read-{link}"), check=True)
        assert (tmp_path / f"read-{link}").read_text() == "container-shadow\n"
    for src in ("/abslink/canary.txt", "/rellink/canary.txt", "/uplink" + str(canary)):
        res = mc("cp", f"{c}:{src}", str(tmp_path / "leak"))
        assert res.returncode != 0 and "Could not find the file" in res.stderr, res.stderr
    res = mc("cp", "-L", f"{c}:/filelink", str(tmp_path / "leak"))
    assert res.returncode != 0
    assert not (tmp_path / "leak").exists()
    # writing through links: lands inside the container
    (tmp_path / "payload").write_text("payload\n")
    mc("cp", str(tmp_path / "payload"), f"{c}:/rootlink/landed-root", check=True)
    mc("cp", str(tmp_path / "payload"), f"{c}:/uplink/landed-up", check=True)
    assert mc("exec", c, "cat", "/landed-root", "/landed-up", check=True).stdout == "payload\n" * 2
    assert not os.path.exists("/landed-root") and not os.path.exists("/landed-up")
    for dest in ("/abslink/canary.txt", "/rellink/canary.txt", "/filelink"):
        mc("cp", str(tmp_path / "payload"), f"{c}:{dest}")
    mc("exec", c, "mkdir", "-p", str(canary_dir), check=True)
    for dest in ("/abslink/canary.txt", "/rellink/canary.txt", "/filelink", "/uplink" + str(canary)):
        mc("cp", str(tmp_path / "payload"), f"{c}:{dest}", check=True)
    assert mc("exec", c, "cat", str(canary), check=True).stdout == "payload\n"
    assert canary.read_text() == "host secret\n"
    assert sorted(os.listdir(canary_dir)) == before


def test_cp_errors_are_one_clear_line(mc, box, tmp_path):
    c = box("cperr")
    for args, message in [
        ([f"{c}:/no/such", str(tmp_path)], f"Could not find the file /no/such in container {c}"),
        ([str(tmp_path / "missing"), f"{c}:/tmp"], "no such file or directory"),
        ([str(tmp_path), str(tmp_path / "b")], "must specify at least one container source"),
        ([f"{c}:/a", f"{c}:/b"], "copying between containers is not supported"),
        (["nobox:/etc/passwd", str(tmp_path)], "No such container: nobox"),
        ([f"{c}:/etc/passwd", str(tmp_path / "no" / "dir" / "f")], "does not exist"),
    ]:
        res = mc("cp", *args)
        assert res.returncode != 0, args
        assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1, (args, res.stderr)


# -- export --------------------------------------------------------------------

def test_export_is_the_containers_filesystem(mc, box, tmp_path):
    c = box("exp")
    mc("exec", c, "sh", "-c", "echo mine > /root/mine.txt; rm /bin/zcat", check=True)
    mc("export", "-o", str(tmp_path / "fs.tar"), c, check=True)
    with tarfile.open(tmp_path / "fs.tar") as tar:
        names = set(tar.getnames())
        assert tar.extractfile("root/mine.txt").read() == b"mine\n"
    assert {"bin/busybox", "bin/sh", "etc/passwd", "root/mine.txt"} <= names
    assert "bin/zcat" not in names and not any(n.startswith("proc/") for n in names)
    res = mc("export", "nobox", "-o", str(tmp_path / "none.tar"))
    assert res.returncode != 0 and "No such container: nobox" in res.stderr
    assert not (tmp_path / "none.tar").exists()


# -- commit --------------------------------------------------------------------

def test_commit_makes_an_image_that_runs_with_the_changes(mc, box):
    c = box("com")
    mc("exec", c, "sh", "-c", "echo committed > /committed.txt; rm /bin/zcat; "
                              "rm -rf /var && mkdir /var && touch /var/only", check=True)
    res = mc("commit", "-m", "my change", "-a", "Tester <t@example.com>",
             "-c", 'CMD ["cat", "/committed.txt"]', "-c", "ENV GREETING=\"hi there\"", "-c", "WORKDIR /var",
             "-c", "LABEL stage=committed", "-c", "EXPOSE 8080", c, "committed:v1", check=True)
    image_id = res.stdout.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    assert "committed" in mc("images", check=True).stdout
    run = mc("run", "--rm", "--network", "none", "committed:v1", check=True, timeout=60)
    assert run.stdout == "committed\n"
    seen = mc("run", "--rm", "--network", "none", "committed:v1", "sh", "-c",
              'pwd; ls /var; echo "$GREETING"; test -e /bin/zcat || echo gone', check=True, timeout=60)
    assert seen.stdout == "/var\nonly\nhi there\ngone\n"
    info = mc.inspect("committed:v1")
    assert info["Id"] == image_id
    assert info["Config"]["Cmd"] == ["cat", "/committed.txt"]
    assert info["Config"]["Labels"]["stage"] == "committed" and "8080/tcp" in info["Config"]["ExposedPorts"]
    assert info["Author"] == "Tester <t@example.com>" and info["Comment"] == "my change"
    assert len(info["RootFS"]["Layers"]) == len(mc.inspect("busybox")["RootFS"]["Layers"]) + 1
    mc("rmi", "committed:v1", check=True)


def test_commit_without_changes_adds_no_layer(mc):
    mc("create", "--name", "comempty", "--network", "none", "busybox", "true", check=True)
    image_id = mc("commit", "comempty", check=True).stdout.strip()
    assert mc.inspect(image_id)["RootFS"]["Layers"] == mc.inspect("busybox")["RootFS"]["Layers"]
    assert mc.inspect(image_id)["Config"]["Cmd"] == ["true"]
    mc("rm", "comempty", check=True)
    mc("rmi", image_id, check=True)


def test_commit_refuses_a_bad_change_and_makes_nothing(mc):
    mc("create", "--name", "combad", "--network", "none", "busybox", "true", check=True)
    before = mc("images", "-q", "--no-trunc").stdout
    res = mc("commit", "-c", "FROM scratch", "combad", "bad:v1")
    assert res.returncode != 0 and res.stderr.strip() == "Error: FROM is not a valid change command"
    res = mc("commit", "combad", "Bad Name")
    assert res.returncode != 0 and len(res.stderr.strip().splitlines()) == 1
    assert mc("images", "-q", "--no-trunc").stdout == before
    mc("rm", "combad", check=True)
