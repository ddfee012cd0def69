"""The examples/build Dockerfiles: the course image runs as documented, the
web app answers over HTTP on a published port (127.0.0.1 only), the static
example compiles in a toolchain image made from the host's packages and
ships only its binary."""
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "build"


def test_the_course_example(mc):
    res = mc("build", "--network", "none", "-t", "course:example", str(EXAMPLES / "course"), timeout=300)
    assert res.returncode == 0, res.stderr
    out = mc("run", "--rm", "--network", "none", "course:example", check=True, timeout=60).stdout
    assert out == "Welcome to the course image.\nhello from a course image (as app)\n"


def test_the_web_app_answers_on_a_published_port(mc):
    res = mc("build", "--network", "none", "-t", "webapp:example", str(EXAMPLES / "webapp"), timeout=300)
    assert res.returncode == 0, res.stderr
    name = mc.run_detached("-p", "127.0.0.1:0:80", "webapp:example")
    mc.leftovers.append(name)
    try:
        port = mc("port", name, "80/tcp", check=True).stdout.split(":")[-1].strip()
        body = b""
        for _ in range(50):   # bounded: httpd is up within a second
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                    body = resp.read()
                break
            except OSError:
                time.sleep(0.1)
        assert body == b"<h1>built by minictr</h1>\n"
    finally:
        mc("rm", "-f", name, timeout=60)


def _static_toolchain_missing() -> str | None:
    """Why the host cannot make the static example's toolchain image, if it cannot."""
    for tool in ("gcc", "dpkg-query", "dash"):
        if not shutil.which(tool):
            return f"{tool} is not installed (.ci/install installs gcc and libc6-dev)"
    libc_a = subprocess.run(["gcc", "-print-file-name=libc.a"], capture_output=True, text=True).stdout.strip()
    if not os.path.isabs(libc_a):
        return "gcc finds no static libc.a (apt-get install libc6-dev)"
    return None


def test_the_static_example_ships_only_its_binary(mc, tmp_path):
    # ~10 s here: the 200 MiB toolchain layer is written and loaded, the build itself is under a second
    missing = _static_toolchain_missing()
    if missing:
        pytest.skip(missing)
    static = EXAMPLES / "static"
    made = subprocess.run([sys.executable, str(static / "toolchain_image.py"), "--minictr", str(mc.venv_minictr)],
                          env={**mc.env, "TMPDIR": str(tmp_path)}, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "Loaded image: gcc-toolchain:local" in made.stdout
    res = mc("build", "--pull", "never", "--network", "none", "-t", "hello-static", str(static), timeout=300)
    assert res.returncode == 0, res.stderr

    out = mc("run", "--rm", "--network", "none", "hello-static", "one", "two words", check=True, timeout=60).stdout
    assert out == "Hello from a static binary in a scratch image.\nargv[1] = one\nargv[2] = two words\n"

    image = mc.inspect("hello-static")
    assert len(image["RootFS"]["Layers"]) == 1
    assert image["Config"]["Entrypoint"] == ["/hello"]
    # a static glibc binary: far above a dynamic one's ~15 kB, well under the toolchain's 200 MB
    assert 100_000 < image["Size"] < 1_500_000, image["Size"]
    archive = tmp_path / "hello-static.tar"
    mc("save", "-o", str(archive), "hello-static", check=True)
    with tarfile.open(archive) as tar:
        layer_path = json.load(tar.extractfile("manifest.json"))[0]["Layers"][0]
        with tarfile.open(fileobj=tar.extractfile(layer_path)) as layer:
            files = [(m.name, m.isreg(), m.mode & 0o111 != 0) for m in layer.getmembers()]
    assert files == [("hello", True, True)]
