"""`minictr build`: the instructions a Docker course starts with, the
cache, multi-stage builds, and failures that leave nothing behind."""
import pytest

pytestmark = pytest.mark.root

BASIC = """\
# a comment
FROM busybox
LABEL org.example.kind="course" version=1
MAINTAINER someone@example.com
ENV GREETING="hello world" \\
    PATH=/app/bin:$PATH
WORKDIR /app
COPY hello.txt .
COPY bin/ bin/
RUN echo "built with $GREETING" > /built && chmod +x /app/bin/tool
EXPOSE 8080/tcp 53/udp
VOLUME /data
USER 1000:1000
STOPSIGNAL SIGINT
ENTRYPOINT ["sh", "-c"]
CMD ["cat /app/hello.txt; tool"]
"""


def test_a_course_dockerfile_builds_and_runs(mc, context):
    ctx = context(BASIC, {"hello.txt": "hi from the context\n", "bin/tool": "#!/bin/sh\necho tool ran\n"})
    res = mc("build", "-t", "course:1", str(ctx), timeout=300)
    assert res.returncode == 0, res.stderr
    assert "#" in res.stderr and "DONE" in res.stderr
    out = mc("run", "--rm", "--network", "none", "course:1", check=True, timeout=60)
    assert out.stdout == "hi from the context\ntool ran\n"
    info = mc.inspect("course:1")
    config = info["Config"]
    assert "GREETING=hello world" in config["Env"] and config["WorkingDir"] == "/app"
    assert [e for e in config["Env"] if e.startswith("PATH=")][0].startswith("PATH=/app/bin:")
    assert config["Labels"] == {"org.example.kind": "course", "version": "1"}
    assert config["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}} and config["Volumes"] == {"/data": {}}
    assert config["User"] == "1000:1000" and config["StopSignal"] == "SIGINT"
    assert config["Entrypoint"] == ["sh", "-c"] and config["Cmd"] == ["cat /app/hello.txt; tool"]
    assert info["Author"] == "someone@example.com"
    built = mc("run", "--rm", "--network", "none", "--entrypoint", "cat", "course:1", "/built", check=True)
    assert built.stdout == "built with hello world\n"
    mode = mc("run", "--rm", "--network", "none", "--entrypoint", "stat", "course:1", "-c", "%a %u",
              "/app/hello.txt", check=True)
    assert mode.stdout.split() == ["644", "0"]


def test_an_unchanged_rebuild_is_cached_and_gives_the_same_image(mc, context):
    ctx = context("FROM busybox\nRUN echo one > /one\nCOPY f /f\nRUN echo two > /two\nCMD [\"cat\", \"/f\"]\n",
                  {"f": "v1\n"})
    first = mc("build", "-q", "-t", "cache:1", str(ctx), check=True, timeout=300).stdout.strip()
    again = mc("build", "-t", "cache:1", str(ctx), check=True, timeout=300)
    assert again.stderr.count("CACHED") == 4, again.stderr
    assert mc.inspect("cache:1")["Id"] == first
    (ctx / "f").write_text("v2\n")
    changed = mc("build", "-t", "cache:2", str(ctx), check=True, timeout=300)
    steps = [line for line in changed.stderr.splitlines() if "CACHED" in line or "DONE" in line]
    cached = [line for line in changed.stderr.splitlines() if line.endswith("CACHED")]
    assert len(cached) == 1, changed.stderr   # RUN echo one; COPY and the RUN after it are built again
    assert steps
    assert mc("run", "--rm", "--network", "none", "cache:2", check=True).stdout == "v2\n"
    assert mc("run", "--rm", "--network", "none", "cache:1", check=True).stdout == "v1\n"


def test_a_copied_file_changed_with_its_size_and_mtime_kept_is_copied_again(mc, context):
    """The context's checksums are remembered by stat (build/file_sums.py):
    a change that keeps the size and forces the mtime back still changes
    the ctime, and so the COPY (as docker's BuildKit sees it too)."""
    import os
    import time
    ctx = context("FROM busybox\nCOPY d/ /d/\nCMD [\"cat\", \"/d/f\"]\n", {"d/f": "v1\n", "d/g": "same\n"})
    time.sleep(1.1)   # older than the racy second: the checksums are remembered
    mc("build", "--network", "none", "-t", "stat:1", str(ctx), check=True, timeout=300)
    again = mc("build", "--network", "none", "-t", "stat:1", str(ctx), check=True, timeout=300)
    assert again.stderr.count("CACHED") == 2, again.stderr   # COPY and CMD
    before = os.stat(ctx / "d" / "f")
    (ctx / "d" / "f").write_text("v2\n")
    os.utime(ctx / "d" / "f", ns=(before.st_atime_ns, before.st_mtime_ns))
    changed = mc("build", "--network", "none", "-t", "stat:2", str(ctx), check=True, timeout=300)
    assert "CACHED" not in changed.stderr, changed.stderr
    assert mc("run", "--rm", "--network", "none", "stat:2", check=True).stdout == "v2\n"


def test_multi_stage_with_target_and_copy_from(mc, context):
    ctx = context("FROM busybox AS build\nRUN mkdir /out && echo compiled > /out/app\n"
                  "FROM busybox AS unused\nRUN exit 9\n"
                  "FROM busybox\nCOPY --from=build /out/app /usr/local/bin/app\nCMD [\"cat\", \"/usr/local/bin/app\"]\n")
    res = mc("build", "-t", "multi:1", str(ctx), timeout=300)
    assert res.returncode == 0, res.stderr
    assert "exit 9" not in res.stderr, "a stage the target does not need is skipped"
    assert mc("run", "--rm", "--network", "none", "multi:1", check=True).stdout == "compiled\n"
    res = mc("build", "-t", "multi:build", "--target", "build", str(ctx), timeout=300)
    assert res.returncode == 0, res.stderr
    out = mc("run", "--rm", "--network", "none", "multi:build", "cat", "/out/app", check=True)
    assert out.stdout == "compiled\n"
    res = mc("build", "--target", "nope", str(ctx), timeout=60)
    assert res.returncode != 0 and "failed to reach build target nope" in res.stderr


def test_build_args_and_whiteouts(mc, context):
    ctx = context("ARG BASE=busybox\nFROM $BASE\nARG WHO=nobody\nRUN echo $WHO > /who && rm /bin/vi\n"
                  "RUN rm -r /etc/network 2>/dev/null; mkdir -p /etc/network && echo new > /etc/network/f\n")
    res = mc("build", "-t", "args:1", "--build-arg", "WHO=builder", "--build-arg", "UNUSED=1", str(ctx), timeout=300)
    assert res.returncode == 0, res.stderr
    assert "UNUSED" in res.stderr   # docker's warning for a build arg nobody consumed
    out = mc("run", "--rm", "--network", "none", "args:1", "sh", "-c",
             "cat /who; ls /bin/vi 2>&1; ls /etc/network", check=True)
    lines = out.stdout.splitlines()
    assert lines[0] == "builder" and "No such file" in lines[1] and lines[2] == "f"


def test_dockerignore_and_paths_outside_the_context(mc, context):
    ctx = context("FROM busybox\nCOPY . /src\nCMD [\"ls\", \"-a\", \"/src\"]\n",
                  {".dockerignore": "secret*\n*.log\n!keep.log\n", "secret.txt": "x", "a.log": "x", "keep.log": "k",
                   "app.py": "print()"})
    assert mc("build", "-t", "ignore:1", str(ctx), timeout=300).returncode == 0
    listed = mc("run", "--rm", "--network", "none", "ignore:1", check=True).stdout.split()
    assert "app.py" in listed and "keep.log" in listed and "secret.txt" not in listed and "a.log" not in listed
    bad = context("FROM busybox\nCOPY ../outside /x\n", name="bad")
    res = mc("build", str(bad), timeout=60)
    assert res.returncode != 0 and "Dockerfile:2:" in res.stderr and "outside the build context" in res.stderr


def test_a_failing_run_names_the_line_and_leaves_nothing(mc, context):
    before = set(mc("images", "-q", "--no-trunc").stdout.split())
    ctx = context("FROM busybox\nRUN echo step one\nRUN echo going down; exit 3\nRUN echo never\n")
    res = mc("build", "-t", "broken:1", str(ctx), timeout=300)
    assert res.returncode != 0
    assert "Dockerfile:3:" in res.stderr and "exit code: 3" in res.stderr and "going down" in res.stderr
    assert "never" not in res.stderr
    assert mc("images", "-q", "broken:1").stdout.strip() == ""
    assert not mc("ps", "-aq").stdout.strip(), "a failed step's container is removed"
    assert set(mc("images", "-q", "--no-trunc").stdout.split()) == before, "a failed build leaves no image"


@pytest.mark.parametrize("dockerfile, message", [
    ("FROM busybox\nBOGUS x\n", "Dockerfile:2:"),
    ("RUN true\n", "Dockerfile:1:"),
    ("FROM busybox\nCOPY --from=nowhere /a /b\n", "Dockerfile:2:"),
    ("FROM busybox\nCOPY missing.txt /x\n", "Dockerfile:2:"),
])
def test_bad_dockerfiles_fail_with_the_line(mc, context, dockerfile, message):
    ctx = context(dockerfile)
    res = mc("build", "--pull", "never", "-t", "bad:1", str(ctx), timeout=120)   # never Docker Hub
    assert res.returncode != 0 and message in res.stderr, res.stderr
    assert mc("images", "-q", "bad:1").stdout.strip() == ""
    assert not mc("ps", "-aq").stdout.strip()


def test_source_date_epoch_makes_the_build_reproducible(mc, context):
    ctx = context("FROM busybox\nCOPY f /f\nRUN mkdir -p /out && echo made > /out/file && touch /out\n"
                  "ENV BUILT=yes\n", {"f": "same\n"})
    ids = []
    for _ in range(2):
        res = mc("build", "-q", "--no-cache", "--network", "none", "--build-arg", "SOURCE_DATE_EPOCH=1700000000",
                 str(ctx), timeout=300)
        assert res.returncode == 0, res.stderr
        ids.append(res.stdout.strip())
    assert ids[0] == ids[1], "the same context and Dockerfile give the same image with SOURCE_DATE_EPOCH"
    plain = mc("build", "-q", "--no-cache", "--network", "none", str(ctx), timeout=300).stdout.strip()
    assert plain != ids[0]
    info = mc.inspect(ids[0])
    assert info["Created"].startswith("2023-11-14T22:13:20")



HEREDOCS = """\
FROM busybox
ARG NAME=world
RUN <<EOF
echo "script line one" > /one
echo "hello $NAME" >> /one
EOF
RUN cat > /two <<'END'
literal $NAME
END
COPY <<EOF /etc/greeting
hi $NAME
EOF
COPY <<A <<B /many/
first
A
second
B
"""


def test_heredocs_in_run_and_copy(mc, context):
    ctx = context(HEREDOCS)
    res = mc("build", "--network", "none", "-t", "heredoc:1", str(ctx), timeout=300)
    assert res.returncode == 0, res.stderr
    out = mc("run", "--rm", "--network", "none", "heredoc:1", "sh", "-c",
             "cat /one /two /etc/greeting /many/A /many/B", check=True).stdout
    assert out == "script line one\nhello world\nliteral $NAME\nhi world\nfirst\nsecond\n"


@pytest.mark.parametrize("dockerfile, message", [
    ("FROM busybox\nRUN <<EOF\necho never ends\n", "Dockerfile:2:"),
    ("FROM busybox\nENV A=\"unterminated\n", "Dockerfile:2:"),
    ("FROM busybox AS one\nFROM one AS two\nCOPY --from=two /x /y\n", "Dockerfile:3:"),
])
def test_malformed_dockerfiles_name_the_line(mc, context, dockerfile, message):
    ctx = context(dockerfile)
    res = mc("build", "--pull", "never", str(ctx), timeout=120)
    assert res.returncode != 0 and message in res.stderr, res.stderr
    assert not mc("ps", "-aq").stdout.strip()


def test_a_changed_build_arg_rebuilds_only_from_where_it_is_used(mc, context):
    ctx = context("FROM busybox\nARG V=1\nCOPY f /f\nRUN echo no-arg > /plain\nRUN echo $V > /v\nENV X=1\n",
                  {"f": "f\n"})
    assert mc("build", "--network", "none", "--build-arg", "V=1", "-t", "argcache:1", str(ctx),
              timeout=300).returncode == 0
    res = mc("build", "--network", "none", "--build-arg", "V=2", "-t", "argcache:2", str(ctx), timeout=300)
    assert res.returncode == 0, res.stderr
    lines = res.stderr.splitlines()

    def cached(step: str) -> bool:
        n = next(line.split()[0] for line in lines if step in line)
        return f"{n} CACHED" in lines
    # every RUN after an ARG has the ARG in its environment (docker's rule); COPY does not
    assert cached("COPY f /f") and cached("ARG V=1")
    assert not cached("RUN echo $V") and not cached("ENV X=1")
    assert mc("run", "--rm", "--network", "none", "argcache:2", "cat", "/v", check=True).stdout == "2\n"


def test_outputs_docker_archive_and_local_dir(mc, context, tmp_path):
    ctx = context("FROM busybox\nRUN echo out > /out.txt\n")
    archive, local = tmp_path / "img.tar", tmp_path / "rootfs"
    res = mc("build", "--network", "none", "-o", f"type=docker,dest={archive}", "-o", str(local), str(ctx),
             timeout=300)
    assert res.returncode == 0, res.stderr
    import tarfile
    with tarfile.open(archive) as tar:
        assert "manifest.json" in tar.getnames()
    assert (local / "out.txt").read_text() == "out\n" and (local / "bin" / "busybox").exists()
    bad = mc("build", "-o", "type=nonsense,dest=x", str(ctx), timeout=60)
    assert bad.returncode != 0 and "type must be image, docker, oci or local" in bad.stderr


def test_a_context_from_a_tar_on_stdin_and_a_dockerfile_on_stdin(mc, context, tmp_path):
    import io
    import subprocess
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in (("Dockerfile", "FROM busybox\nCOPY data /data\nCMD [\"cat\", \"/data\"]\n"),
                           ("data", "from the tar\n")):
            raw = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    res = subprocess.run([str(mc.venv_minictr), "build", "--network", "none", "-t", "stdin:tar", "-"],
                         input=buf.getvalue(), env=mc.env, capture_output=True, timeout=300)
    assert res.returncode == 0, res.stderr.decode()
    assert mc("run", "--rm", "--network", "none", "stdin:tar", check=True).stdout == "from the tar\n"
    res = subprocess.run([str(mc.venv_minictr), "build", "--network", "none", "-t", "stdin:df", "-"],
                         input=b"FROM busybox\nRUN echo no context > /x\n", env=mc.env, capture_output=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr.decode()
    bad = io.BytesIO()
    with tarfile.open(fileobj=bad, mode="w") as tar:
        info = tarfile.TarInfo("../escape")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    res = subprocess.run([str(mc.venv_minictr), "build", "-"], input=bad.getvalue(), env=mc.env,
                         capture_output=True, timeout=60)
    assert res.returncode != 0 and b"'..'" in res.stderr
