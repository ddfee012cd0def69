"""A throwaway qemu VM with unified cgroup v2, for the tests that need it.

The host here runs hybrid cgroups, where a v2 driver cannot be exercised.
The VM boots Debian's own kernel with a tiny busybox initramfs that mounts
the host's `/` read-only over 9p, puts a tmpfs overlay on top and
switch_roots into it: the guest runs this very source tree and venv. A
second, writable 9p share brings the results back. No network device.

Run directly for a manual session:  python tests/vm/harness.py [pytest args]
"""
import glob
import lzma
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GUEST_SCRIPT = Path(__file__).resolve().parent / "guest.sh"
CACHE = REPO / ".cache" / "vm"

# Loaded in this order by the initramfs (dependencies first).
MODULES = ["drivers/virtio/virtio_ring", "drivers/virtio/virtio", "drivers/virtio/virtio_pci_legacy_dev",
           "drivers/virtio/virtio_pci_modern_dev", "drivers/virtio/virtio_pci", "net/9p/9pnet",
           "net/9p/9pnet_virtio", "fs/netfs/netfs", "fs/fscache/fscache", "fs/9p/9p", "fs/overlayfs/overlay",
           "drivers/block/virtio_blk"]   # a small scratch disk: blockIO limits need a block device

INIT = """#!/bin/busybox sh
# stage 1: just enough to reach the host's root over 9p
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules.order); do insmod /modules/$m.ko || echo "vm: insmod $m failed"; done
mkdir -p /lower /rw /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro host /lower || { echo "vm: 9p mount failed"; poweroff -f; }
mount -t tmpfs -o size=4g tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot
guest=$(sed -n 's/.*minictr.guest=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
umount /proc /sys /dev
exec switch_root /newroot /bin/sh "$guest"
"""


class VMUnavailable(Exception):
    """Why this host cannot boot the VM; the caller skips with it."""


@dataclass
class Kernel:
    version: str
    vmlinuz: Path
    modules: Path


def find_kernel() -> Kernel:
    """A Debian kernel whose modules include 9p (the cloud flavour lacks it)."""
    for vmlinuz in sorted(glob.glob("/boot/vmlinuz-*"), reverse=True):
        version = vmlinuz.split("vmlinuz-", 1)[1]
        modules = Path("/lib/modules") / version / "kernel"
        if all((modules / f"{m}.ko").exists() for m in MODULES):
            return Kernel(version, Path(vmlinuz), modules)
    raise VMUnavailable("no /boot/vmlinuz-* with 9p/virtio/overlay modules (apt install linux-image-amd64)")


def check_host() -> Kernel:
    for tool in ("qemu-system-x86_64", "cpio"):
        if not shutil.which(tool):
            raise VMUnavailable(f"{tool} not installed (apt install qemu-system-x86 cpio)")
    if not os.path.exists("/bin/busybox") or "static" not in subprocess.run(
            ["file", "-L", "/bin/busybox"], capture_output=True, text=True).stdout:
        if not shutil.which("busybox"):
            raise VMUnavailable("static busybox not installed (apt install busybox-static)")
    return find_kernel()


def extract_vmlinux(vmlinuz: Path, dest: Path) -> Path:
    """The uncompressed ELF boots ~2 s faster (qemu's PVH entry) than bzImage."""
    if dest.exists():
        return dest
    data = vmlinuz.read_bytes()
    start = data.find(b"\xfd7zXZ\x00")
    if start < 0:
        return vmlinuz  # not xz-compressed: boot the bzImage as it is
    decompressor = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    elf = decompressor.decompress(data[start:])
    if not elf.startswith(b"\x7fELF"):
        return vmlinuz
    tmp = dest.with_suffix(".tmp")
    tmp.write_bytes(elf)
    tmp.rename(dest)
    return dest


def build_initramfs(kernel: Kernel, dest: Path) -> Path:
    if dest.exists():
        return dest
    with tempfile.TemporaryDirectory() as tree:
        root = Path(tree)
        for d in ("bin", "proc", "sys", "dev", "modules"):
            (root / d).mkdir()
        busybox = "/bin/busybox" if os.path.exists("/bin/busybox") else shutil.which("busybox")
        shutil.copy2(busybox, root / "bin" / "busybox")
        (root / "init").write_text(INIT)
        (root / "init").chmod(0o755)
        names = []
        for m in MODULES:
            name = m.rsplit("/", 1)[1]
            shutil.copy2(kernel.modules / f"{m}.ko", root / "modules" / f"{name}.ko")
            names.append(name)
        (root / "modules.order").write_text("\n".join(names) + "\n")
        files = subprocess.run(["find", "."], cwd=root, capture_output=True, text=True, check=True).stdout
        tmp = dest.with_suffix(".tmp")
        with open(tmp, "wb") as out:
            subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, input=files.encode(),
                           stdout=out, check=True)
        tmp.rename(dest)
    return dest


@dataclass
class Result:
    returncode: int | None     # the guest command's exit status; None if it never reported
    log: str                   # its output
    console: str               # the serial console (kernel and init messages)
    seconds: float


def run(command: str, results: Path, timeout: float = 900, memory_mb: int = 2048, repo: Path = REPO) -> Result:
    """Boot, run `command` (a shell line, cwd = the repo) in the guest as
    root, power off. qemu is ended by its PID on timeout. The repository is
    a share of its own, mounted after the guest's fresh /tmp and /run: a
    clone under /tmp stays visible."""
    kernel = check_host()
    CACHE.mkdir(parents=True, exist_ok=True)
    vmlinux = extract_vmlinux(kernel.vmlinuz, CACHE / f"vmlinux-{kernel.version}")
    initramfs = build_initramfs(kernel, CACHE / f"initramfs-{kernel.version}-{_init_stamp()}.cpio")
    results.mkdir(parents=True, exist_ok=True)
    (results / "command").write_text(command + "\n")
    for stale in ("rc", "log"):
        (results / stale).unlink(missing_ok=True)
    console = results / "console.log"
    disk = results / "scratch.img"
    with open(disk, "wb") as f:
        f.truncate(8 << 20)
    cmdline = (f"console=ttyS0 quiet panic=-1 rdinit=/init minictr.guest={GUEST_SCRIPT} "
               f"minictr.results={results} minictr.repo={repo}")
    argv = ["qemu-system-x86_64", "-accel", "tcg,thread=multi", "-cpu", "max", "-smp", "2",
            "-m", str(memory_mb), "-nodefaults", "-nic", "none", "-nographic", "-no-reboot",
            "-serial", f"file:{console}", "-kernel", str(vmlinux), "-initrd", str(initramfs),
            "-append", cmdline,
            "-virtfs", "local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap",
            "-virtfs", f"local,path={results},mount_tag=results,security_model=none,multidevs=remap",
            "-virtfs", f"local,path={repo},mount_tag=repo,security_model=none,readonly=on,multidevs=remap",
            "-drive", f"file={disk},format=raw,if=virtio,cache=unsafe"]
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(results / "qemu.err", "w"), start_new_session=True)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    took = time.monotonic() - started
    rc_file = results / "rc"
    rc = int(rc_file.read_text().strip()) if rc_file.exists() and rc_file.read_text().strip() else None
    log = (results / "log").read_text(errors="replace") if (results / "log").exists() else ""
    text = console.read_text(errors="replace") if console.exists() else ""
    err = (results / "qemu.err").read_text(errors="replace")
    return Result(rc, log, text + ("\n[qemu stderr]\n" + err if err.strip() else ""), took)


def _init_stamp() -> str:
    """Rebuild the cached initramfs whenever the init script changes."""
    import hashlib
    return hashlib.sha256((INIT + "".join(MODULES)).encode()).hexdigest()[:12]


if __name__ == "__main__":
    out = Path(tempfile.mkdtemp(prefix="minictr-vm-"))
    pytest_args = " ".join(sys.argv[1:]) or "-m cgroupv2 tests/integration"
    res = run(f".venv/bin/python -m pytest -q -rs -p no:cacheprovider {pytest_args}", out)
    print(res.log or res.console[-4000:])
    print(f"vm: rc={res.returncode} in {res.seconds:.1f}s (results in {out})")
    sys.exit(1 if res.returncode is None else res.returncode)
