"""A real registry for tests: Debian's docker-registry (Distribution 2.8) on
127.0.0.1 with a random port and its own storage, in one of three modes:
anonymous, htpasswd Basic auth, or `auth: token` backed by `TokenIssuer`.

Started and stopped by PID; nothing listens beyond loopback."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from .token_issuer import ISSUER, SERVICE, TokenIssuer

REGISTRY_BIN = shutil.which("docker-registry") or "/usr/bin/docker-registry"

# user → (password, actions granted by the token issuer); both users pass htpasswd.
USERS = {"alice": ("wonderland", {"pull", "push", "delete"}), "bob": ("builder", {"pull"})}
# Like Docker Hub: public repositories anyone may pull (token mode only).
ANONYMOUS_PULL = ("library/", "test/")
MODES = ("anonymous", "htpasswd", "token")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _htpasswd(users: dict) -> str:
    import bcrypt
    return "".join(f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds=5)).decode()}\n"
                   for u, (p, _) in users.items())


class Registry:
    """One docker-registry process. `address` is host:port for references
    (`f"{reg.address}/library/busybox:latest"`), `url` its http base URL."""

    def __init__(self, workdir: Path, mode: str = "anonymous", storage: Path | None = None,
                 users: dict = USERS, anonymous_pull: tuple[str, ...] = ANONYMOUS_PULL):
        if mode not in MODES:
            raise ValueError(f"registry mode {mode!r}: expected one of {MODES}")
        self.workdir, self.mode, self.users = Path(workdir), mode, users
        self.storage = Path(storage) if storage else self.workdir / "storage"
        self.issuer = TokenIssuer(users, anonymous_pull) if mode == "token" else None
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.images: dict = {}  # filled by seeding: ref → SeededImage

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def log(self) -> str:
        path = self.workdir / "registry.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def credentials(self, user: str = "alice") -> tuple[str, str] | None:
        return None if self.mode == "anonymous" else (user, self.users[user][0])

    def skopeo_creds(self, flag: str, user: str = "alice") -> list[str]:
        """`--src-creds`/`--dest-creds`/`--creds` arguments for this registry's mode."""
        creds = self.credentials(user)
        return [flag, f"{creds[0]}:{creds[1]}"] if creds else []

    def blob_path(self, digest: str) -> Path:
        """Where Distribution's filesystem driver keeps a blob's bytes."""
        algo, hexpart = digest.split(":", 1)
        return self.storage / "docker/registry/v2/blobs" / algo / hexpart[:2] / hexpart / "data"

    def _config(self) -> str:
        auth = ""
        if self.mode == "htpasswd":
            (self.workdir / "htpasswd").write_text(_htpasswd(self.users))
            auth = f"auth:\n  htpasswd:\n    realm: minictr-test\n    path: {self.workdir / 'htpasswd'}\n"
        elif self.mode == "token":
            cert = self.issuer.signing_key.write_cert(self.workdir / "token-cert.pem")
            auth = (f"auth:\n  token:\n    realm: {self.issuer.realm}\n    service: {SERVICE}\n"
                    f"    issuer: {ISSUER}\n    rootcertbundle: {cert}\n")
        # A fixed http.secret: several registries may share one storage dir.
        return (f"version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n"
                f"storage:\n  filesystem:\n    rootdirectory: {self.storage}\n  delete:\n    enabled: true\n"
                f"  maintenance:\n    uploadpurging:\n      enabled: false\n"
                f"http:\n  addr: 127.0.0.1:{self.port}\n  secret: minictr-test-secret\n{auth}")

    def start(self, timeout: float = 15) -> "Registry":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.storage.mkdir(parents=True, exist_ok=True)
        if self.issuer:
            self.issuer.start()
        for _ in range(3):  # the free port may be taken between probe and bind
            self.port = free_port()
            cfg = self.workdir / "config.yml"
            cfg.write_text(self._config())
            with open(self.workdir / "registry.log", "ab") as log:
                self.proc = subprocess.Popen([REGISTRY_BIN, "serve", str(cfg)], stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=log, start_new_session=True)
            if self._wait_ready(timeout):
                return self
            self._kill()
        self.stop()
        raise RuntimeError(f"docker-registry did not start; log:\n{self.log[-2000:]}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                urllib.request.urlopen(f"{self.url}/v2/", timeout=1).close()
                return True
            except urllib.error.HTTPError:
                return True  # 401 from an auth mode is an answer too
            except OSError:
                time.sleep(0.05)
        return False

    def _kill(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def stop(self) -> None:
        self._kill()
        if self.issuer:
            self.issuer.stop()

    def __enter__(self) -> "Registry":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
