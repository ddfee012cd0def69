"""`-u user[:group]` and the image's USER as numbers, looked up in the
container's own /etc/passwd and /etc/group (docker's rules: a number needs
no entry, a name must exist; without a group, the user's primary group;
supplementary groups are those listing the user)."""
from __future__ import annotations

from minictr.engine.errors import EngineError, InvalidOption

MAX_ID = 2**31 - 1  # runc's range for uids and gids
from minictr.engine.in_root import read_in_root


def _entries(root: str, path: str) -> list[list[str]]:
    data = read_in_root(root, path)
    if data is None:
        return []
    out = []
    for line in data.decode(errors="replace").splitlines():
        if line and not line.startswith("#"):
            out.append(line.split(":"))
    return out


def resolve(root: str, spec: str) -> tuple[int, int, list[int]]:
    """(uid, gid, additional gids) for `spec` ("" is root)."""
    if not spec:
        spec = "0"
    user, _, group = spec.partition(":")
    passwd = _entries(root, "/etc/passwd")
    uid, gid, name = None, None, None
    for entry in passwd:
        if len(entry) < 4:
            continue
        if entry[0] == user or (user.isdigit() and entry[2] == user):
            uid, name = int(entry[2]), entry[0]
            gid = int(entry[3]) if entry[3].isdigit() else 0
            break
    if uid is None:
        if not user.isdigit():
            raise EngineError(f"unable to find user {user}: no matching entries in passwd file")
        uid, gid = int(user), 0
    groups = _entries(root, "/etc/group")
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            match = next((g for g in groups if len(g) >= 3 and g[0] == group), None)
            if match is None:
                raise EngineError(f"unable to find group {group}: no matching entries in group file")
            gid = int(match[2])
    for what, value in (("uid", uid), ("gid", gid)):
        if not 0 <= value <= MAX_ID:
            raise InvalidOption(f"-u, --user {spec}: {what} {value} is out of range (0-{MAX_ID})")
    extra = []
    if name is not None and not group:
        for g in groups:
            if len(g) >= 4 and name in g[3].split(",") and g[2].isdigit() and int(g[2]) != gid:
                extra.append(int(g[2]))
    return uid, gid, extra


def group_ids(root: str, names: list) -> list[int]:
    """--group-add (CRI's supplemental groups): numbers as they are, names
    looked up in the container's /etc/group, as docker does."""
    groups = None
    out = []
    for name in names:
        text = str(name)
        if text.isdigit():
            gid = int(text)
        else:
            groups = _entries(root, "/etc/group") if groups is None else groups
            match = next((g for g in groups if len(g) >= 3 and g[0] == text and g[2].isdigit()), None)
            if match is None:
                raise EngineError(f"unable to find group {text}: no matching entries in group file")
            gid = int(match[2])
        if not 0 <= gid <= MAX_ID:
            raise InvalidOption(f"--group-add {text}: gid out of range (0-{MAX_ID})")
        if gid not in out:
            out.append(gid)
    return out
