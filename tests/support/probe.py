"""Builds tests/support/syscall_probe.c as a static binary that a test
bind-mounts into a container (any image, no libc needed there)."""
import shutil
import subprocess
from pathlib import Path

SOURCE = Path(__file__).resolve().parent / "syscall_probe.c"


def build_probe(dest_dir: Path) -> Path | str:
    """The probe's path, or the reason it cannot be built here."""
    if not shutil.which("gcc"):
        return "gcc is not installed (apt install gcc libc6-dev)"
    out = dest_dir / "syscall-probe"
    res = subprocess.run(["gcc", "-static", "-O2", "-o", str(out), str(SOURCE)], capture_output=True, text=True)
    if res.returncode != 0:
        return f"cannot build a static probe: {res.stderr.strip()[:300]}"
    return out


def parse(output: str) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in output.splitlines() if " " in line)
