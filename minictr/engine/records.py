"""Container records in the engine's SQLite database (migration 2): one row
per container, looked up as docker does, by full ID, unique ID prefix or
name."""
from __future__ import annotations

from minictr import jsonio
from minictr.engine import status
from minictr.engine.errors import EngineError, NameConflict, NoSuchContainer
from minictr.engine.spec import ContainerSpec
from minictr.state import sqlite
from minictr.state.db import transaction

ZERO_TIME = "0001-01-01T00:00:00Z"
_MUTABLE = ("status", "pid", "shim_pid", "exit_code", "oom_killed", "error", "started_at", "finished_at",
            "restart_count", "stopped_by_user", "network", "name")


class ContainerRecord:
    __slots__ = ("id", "name", "image_id", "image_ref", "created_at", "spec", "status", "pid", "shim_pid",
                 "exit_code", "oom_killed", "error", "started_at", "finished_at", "restart_count",
                 "stopped_by_user", "network")

    def __init__(self, row: sqlite.Row):
        for key in self.__slots__:
            setattr(self, key, row[key])
        self.status = status.parse(self.status)
        self.spec = ContainerSpec.from_dict(jsonio.loads(row["spec"]))
        self.network = jsonio.loads(row["network"] or "{}")
        self.oom_killed = bool(self.oom_killed)
        self.stopped_by_user = bool(self.stopped_by_user)

    @property
    def short_id(self) -> str:
        return self.id[:12]


class ContainerRecords:
    def __init__(self, conn: sqlite.Connection):
        self.conn = conn

    def add(self, container_id: str, name: str, image_id: str, image_ref: str, created_at: str,
            spec: ContainerSpec) -> None:
        with transaction(self.conn):
            holder = self.conn.execute("SELECT id FROM containers WHERE name=?", (name,)).fetchone()
            if holder:
                raise NameConflict(name, holder[0])
            self.conn.execute(
                "INSERT INTO containers (id, name, image_id, image_ref, created_at, spec) VALUES (?,?,?,?,?,?)",
                (container_id, name, image_id, image_ref, created_at, jsonio.dumps(spec.to_dict())))

    def update(self, container_id: str, **fields) -> None:
        if not fields:
            return
        for key in fields:
            if key not in _MUTABLE:
                raise KeyError(key)
        if "network" in fields and not isinstance(fields["network"], str):
            fields["network"] = jsonio.dumps(fields["network"])
        sets = ", ".join(f"{k}=?" for k in fields)
        try:
            self.conn.execute(f"UPDATE containers SET {sets} WHERE id=?", (*fields.values(), container_id))
        except sqlite.IntegrityError:
            holder = self.conn.execute("SELECT id FROM containers WHERE name=?", (fields.get("name"),)).fetchone()
            raise NameConflict(fields.get("name", ""), holder[0] if holder else "?") from None

    def set_spec(self, container_id: str, spec: ContainerSpec) -> None:
        """`update`: the spec's resources changed (the rest of it never does)."""
        self.conn.execute("UPDATE containers SET spec=? WHERE id=?", (jsonio.dumps(spec.to_dict()), container_id))

    def remove(self, container_id: str) -> None:
        self.conn.execute("DELETE FROM containers WHERE id=?", (container_id,))

    def get(self, container_id: str) -> ContainerRecord:
        row = self.conn.execute("SELECT * FROM containers WHERE id=?", (container_id,)).fetchone()
        if row is None:
            raise NoSuchContainer(container_id)
        return ContainerRecord(row)

    def find(self, text: str) -> ContainerRecord | None:
        """docker's order: full ID, then exact name, then unique ID prefix."""
        name = text[1:] if text.startswith("/") else text
        row = self.conn.execute("SELECT * FROM containers WHERE id=? OR name=? ORDER BY id=? DESC",
                                (text, name, text)).fetchone()
        if row is not None:
            return ContainerRecord(row)
        if not text or any(c not in "0123456789abcdef" for c in text):
            return None
        rows = self.conn.execute("SELECT * FROM containers WHERE id LIKE ?", (text + "%",)).fetchall()
        if len(rows) > 1:
            raise EngineError(f"multiple IDs found with provided prefix: {text}")
        return ContainerRecord(rows[0]) if rows else None

    def lookup(self, text: str) -> ContainerRecord:
        record = self.find(text)
        if record is None:
            raise NoSuchContainer(text)
        return record

    def all(self) -> list[ContainerRecord]:
        rows = self.conn.execute("SELECT * FROM containers ORDER BY created_at DESC").fetchall()
        return [ContainerRecord(row) for row in rows]

    def active_joiners(self, container_id: str, network_modes: list[str]) -> int:
        """How many other active containers use one of these network modes
        (a query, not a parse of every record's spec: it runs at every teardown)."""
        marks = ",".join("?" * len(network_modes))
        row = self.conn.execute(
            f"SELECT COUNT(*) FROM containers WHERE id != ? AND status IN ('running', 'paused', 'restarting') "
            f"AND json_extract(spec, '$.network') IN ({marks})", (container_id, *network_modes)).fetchone()
        return row[0]

    def ids(self) -> set[str]:
        return {row[0] for row in self.conn.execute("SELECT id FROM containers")}

    def names(self) -> set[str]:
        return {row[0] for row in self.conn.execute("SELECT name FROM containers")}
