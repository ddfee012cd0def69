"""ADD: a local archive is unpacked, a URL (a test server on 127.0.0.1) is
fetched and checked against --checksum; and ONBUILD triggers fire in the
next build that starts FROM the image."""
import functools
import hashlib
import http.server
import io
import tarfile
import threading

import pytest

pytestmark = pytest.mark.root


@pytest.fixture
def http_dir(tmp_path):
    """A directory served over http on 127.0.0.1 (an ephemeral port); yields (dir, base URL)."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _tar_gz(files: dict) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o640
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_add_unpacks_a_local_archive(mc, context):
    ctx = context("FROM busybox\nADD bundle.tar.gz /opt/\nCOPY bundle.tar.gz /kept/\n")
    (ctx / "bundle.tar.gz").write_bytes(_tar_gz({"app/run.sh": "echo run\n", "app/conf": "x=1\n"}))
    assert mc("build", "--network", "none", "-t", "addtar:1", str(ctx), timeout=300).returncode == 0
    out = mc("run", "--rm", "--network", "none", "addtar:1", "sh", "-c",
             "cat /opt/app/run.sh; stat -c %a /opt/app/conf; ls /kept", check=True).stdout.split("\n")
    assert out[:3] == ["echo run", "640", "bundle.tar.gz"], "COPY keeps the archive, ADD unpacks it"


def test_add_fetches_a_url_and_checks_its_checksum(mc, context, http_dir):
    served, base = http_dir
    body = b"remote payload\n"
    (served / "payload.txt").write_bytes(body)
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    ctx = context(f"FROM busybox\nADD --checksum={digest} {base}/payload.txt /srv/\n")
    res = mc("build", "--network", "none", "-t", "addurl:1", str(ctx), timeout=300)
    assert res.returncode == 0, res.stderr
    out = mc("run", "--rm", "--network", "none", "addurl:1", "sh", "-c",
             "cat /srv/payload.txt; stat -c '%a %u' /srv/payload.txt", check=True).stdout
    assert out == "remote payload\n600 0\n"
    wrong = context(f"FROM busybox\nADD --checksum=sha256:{'0' * 64} {base}/payload.txt /srv/\n", name="wrong")
    res = mc("build", "--network", "none", "-t", "addurl:bad", str(wrong), timeout=120)
    assert res.returncode != 0 and "Dockerfile:2:" in res.stderr and "checksum mismatch" in res.stderr
    missing = context(f"FROM busybox\nADD {base}/nothing-here /x\n", name="missing")
    res = mc("build", "--network", "none", str(missing), timeout=120)
    assert res.returncode != 0 and "Dockerfile:2:" in res.stderr and "invalid response status 404" in res.stderr


def test_onbuild_triggers_fire_in_the_next_build(mc, context):
    parent = context("FROM busybox\nONBUILD RUN echo triggered > /from-trigger\nONBUILD COPY note /note\n",
                     name="parent")
    assert mc("build", "--network", "none", "-t", "onbuild-parent:1", str(parent), timeout=300).returncode == 0
    assert mc.inspect("onbuild-parent:1")["Config"]["OnBuild"] == ["RUN echo triggered > /from-trigger",
                                                                   "COPY note /note"]
    child = context("FROM onbuild-parent:1\nRUN cat /from-trigger /note > /both\n", {"note": "child note\n"},
                    name="child")
    res = mc("build", "--network", "none", "-t", "onbuild-child:1", str(child), timeout=300)
    assert res.returncode == 0, res.stderr
    out = mc("run", "--rm", "--network", "none", "onbuild-child:1", "cat", "/both", check=True).stdout
    assert out == "triggered\nchild note\n"
    assert not mc.inspect("onbuild-child:1")["Config"].get("OnBuild"), "triggers do not pass to grandchildren"
