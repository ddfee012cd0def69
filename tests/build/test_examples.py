"""The examples/build Dockerfiles: the course image runs as documented, the
web app answers over HTTP on a published port (127.0.0.1 only)."""
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
