"""The README's main job (acceptance 8): examples/local-mirror.sh starts
Debian's docker-registry on 127.0.0.1 as docker.io's mirror (no fallback),
pushes a busybox image built from the host's busybox-static, and
`minictr run --rm busybox echo hello` pulls it through the mirror. Run here
with a private root, state dir, port and bridge so the host is untouched."""
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from support.engine_env import EngineEnv

pytestmark = pytest.mark.root
SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "local-mirror.sh"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_local_mirror_main_job(tmp_path):
    missing = [t for t in ("docker-registry", "skopeo", "umoci") if not shutil.which(t)]
    if missing or not os.path.exists("/bin/busybox"):
        pytest.skip(f"needs docker-registry, skopeo, umoci and busybox-static (missing: {missing})")
    env = EngineEnv(tmp_path / "engine")
    script_env = dict(env.env, MINICTR_MIRROR_STATE=str(tmp_path / "mirror"),
                      MINICTR_MIRROR_PORT=str(_free_port()), MINICTR_REGISTRIES_CONF=str(tmp_path / "reg.json"))
    try:
        res = subprocess.run(["bash", str(SCRIPT)], env=script_env, capture_output=True, text=True, timeout=180)
        assert res.returncode == 0, res.stderr
        assert res.stdout == "hello\n"
        assert "Unable to find image 'busybox:latest' locally" in res.stderr
        assert "latest: Pulling from library/busybox" in res.stderr
        assert '"mirror-fallback": false' in (tmp_path / "reg.json").read_text()
        # the image came from the mirror: its only layer is the host's busybox-static
        images = env("images", "--format", "json", check=True).stdout
        assert '"Repository":"busybox"' in images.replace(" ", "")
        again = subprocess.run(["bash", str(SCRIPT), "sh", "-c", "busybox | head -1"], env=script_env,
                               capture_output=True, text=True, timeout=60)
        host = subprocess.run(["/bin/busybox"], capture_output=True, text=True).stdout.splitlines()[0]
        assert again.stdout.strip() == host
    finally:
        subprocess.run(["bash", str(SCRIPT), "--stop"], env=script_env, capture_output=True, timeout=30)
        left = env.teardown()
        assert not left
