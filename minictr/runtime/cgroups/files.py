"""Reading and writing cgroup control files, and making and removing cgroup
directories, with the explain trace and errors that name the setting."""
from __future__ import annotations

import errno
import os
import time

from minictr import explain
from minictr.runtime.errors import RuntimeFailure


class CgroupError(RuntimeFailure):
    """A cgroup operation failed; the message names the file and the setting."""


def write(directory: str, name: str, value, setting: str = "") -> None:
    path = os.path.join(directory, name)
    explain.step(f"write {path}", f"{value}" + (f" ({setting})" if setting else ""))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise CgroupError(f"{setting or name}: {path} does not exist (controller not available here?)") from None
    try:
        os.write(fd, str(value).encode())
    except OSError as e:
        raise CgroupError(f"{setting or name}: writing {value!r} to {path}: {e.strerror}") from None
    finally:
        os.close(fd)


def read(directory: str, name: str) -> str:
    with open(os.path.join(directory, name)) as f:
        return f.read()


def read_int(directory: str, name: str, default: int = 0) -> int:
    try:
        return int(read(directory, name).split()[0])
    except (OSError, ValueError, IndexError):
        return default


def read_limit(directory: str | None, name: str) -> int:
    """A limit file (pids.max, memory.max): 0 when unlimited ("max") or absent."""
    if not directory:
        return 0
    try:
        text = read(directory, name).strip()
    except OSError:
        return 0
    return 0 if text == "max" else int(text or 0)


def read_keyed(directory: str, name: str) -> dict[str, int]:
    """Flat keyed files: 'key value' per line (memory.events, cpu.stat, ...)."""
    out = {}
    try:
        for line in read(directory, name).splitlines():
            key, _, value = line.partition(" ")
            try:
                out[key] = int(value)
            except ValueError:
                pass
    except OSError:
        pass
    return out


def make_dirs(path: str) -> list[str]:
    """mkdir -p; returns the directories it made, top first, so only those
    are removed again."""
    made = []
    for _attempt in range(5):   # an empty parent may be removed under us (the engine's /minictr)
        missing = []
        p = path
        while not os.path.isdir(p):
            missing.append(p)
            p = os.path.dirname(p)
        try:
            for d in reversed(missing):
                try:
                    os.mkdir(d, 0o755)
                    made.append(d)
                except FileExistsError:
                    pass
            return made
        except FileNotFoundError:
            continue
        except OSError as e:
            raise CgroupError(f"cannot create cgroup {e.filename}: {e.strerror}") from None
    raise CgroupError(f"cannot create cgroup {path}: its parent keeps disappearing")


def remove_dirs(dirs: list[str], timeout: float = 2.0) -> None:
    """rmdir deepest first; a cgroup whose last task just died can be busy
    for a moment. Parents someone else now uses are left alone: a parent
    (shared by every container, as /minictr) that cannot go now is not this
    container's failure, and the next container to leave removes it."""
    unique = set(dirs)
    parents = {d for d in unique if any(o.startswith(d + "/") for o in unique)}
    for d in sorted(unique, key=lambda p: p.count("/"), reverse=True):
        if d in parents:
            try:
                os.rmdir(d)
            except OSError:
                pass
            continue
        deadline = time.monotonic() + timeout
        while True:
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError as e:
                if e.errno == errno.EBUSY and time.monotonic() < deadline and not _has_children(d):
                    time.sleep(0.01)
                    continue
                if e.errno in (errno.EBUSY, errno.ENOTEMPTY) and _has_children(d):
                    break  # a parent another container still uses
                raise CgroupError(f"cannot remove cgroup {d}: {e.strerror}") from None


def _has_children(d: str) -> bool:
    try:
        return any(e.is_dir() for e in os.scandir(d))
    except OSError:
        return False


def procs(directory: str) -> list[int]:
    """Every pid in the cgroup and below it."""
    out = []
    for dirpath, _dirs, _files in os.walk(directory):
        try:
            out += [int(x) for x in read(dirpath, "cgroup.procs").split()]
        except (OSError, ValueError):
            pass
    return out
