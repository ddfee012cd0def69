"""Running the `minictr` CLI from the venv against a private root, with
docker.io pointed at a local registry (fallback off: nothing may try to
leave the machine)."""
import json
import os
import subprocess
import sys
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


class MinictrCLI:
    def __init__(self, workdir: Path, mirrors: dict | None = None, insecure: list | None = None):
        self.workdir = Path(workdir)
        self.root = self.workdir / "root"
        self.home = self.workdir / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.conf = self.workdir / "registries.json"
        self.conf.write_text(json.dumps({"registry-mirrors": mirrors or {}, "mirror-fallback": False,
                                         "insecure-registries": insecure or []}))
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home),
                    "MINICTR_ROOT": str(self.root), "MINICTR_REGISTRIES_CONF": str(self.conf),
                    "MINICTR_AUTH_FILE": str(self.home / "auth.json"), "LANG": "C.UTF-8"}

    def __call__(self, *args: str, check: bool = False, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
        res = subprocess.run([str(VENV_BIN / "minictr"), *args], env=self.env, capture_output=True, text=True,
                             timeout=timeout, **kw)
        if check and res.returncode != 0:
            raise AssertionError(f"minictr {' '.join(args)} exited {res.returncode}\n{res.stdout}\n{res.stderr}")
        return res

    def popen(self, *args: str, **kw) -> subprocess.Popen:
        return subprocess.Popen([str(VENV_BIN / "minictr"), *args], env=self.env, **kw)

    def inspect(self, name: str) -> dict:
        return json.loads(self("image", "inspect", name, check=True).stdout)[0]
