"""The engine's metadata database: one SQLite file under the root, in WAL
mode so readers never wait for a writer, with numbered migrations applied
in order (PRAGMA user_version records how far a database has come).

A migration is only ever appended: a database made by an older minictr is
brought forward, never rebuilt."""
from __future__ import annotations

import os

from minictr.errors import MinictrError
from minictr.state import sqlite

MIGRATIONS: list[str] = [
    # 1: images. An image is its config digest (docker's image ID); names
    # point at it; the manifest(s) it was pulled through are kept per repo
    # (RepoDigests); its layers are chain IDs, bottom first.
    """
    CREATE TABLE images (
        id TEXT PRIMARY KEY,              -- config digest
        manifest_digest TEXT NOT NULL,    -- the platform manifest
        manifest_media_type TEXT NOT NULL,
        size INTEGER NOT NULL,            -- sum of compressed layer sizes
        created TEXT NOT NULL DEFAULT '', -- from the config
        added_at REAL NOT NULL
    );
    CREATE TABLE tags (
        name TEXT PRIMARY KEY,            -- registry/repo:tag, normalized
        image_id TEXT NOT NULL REFERENCES images(id)
    );
    CREATE INDEX tags_by_image ON tags(image_id);
    CREATE TABLE repo_digests (
        repo TEXT NOT NULL,               -- registry/repo
        digest TEXT NOT NULL,             -- what the registry serves (index or manifest)
        image_id TEXT NOT NULL REFERENCES images(id),
        PRIMARY KEY (repo, digest)
    );
    CREATE INDEX repo_digests_by_image ON repo_digests(image_id);
    CREATE TABLE image_layers (
        image_id TEXT NOT NULL REFERENCES images(id),
        position INTEGER NOT NULL,        -- 0 is the bottom layer
        chain_id TEXT NOT NULL,
        diff_id TEXT NOT NULL,
        blob_digest TEXT NOT NULL,        -- compressed blob in the content store
        blob_media_type TEXT NOT NULL,
        blob_size INTEGER NOT NULL,
        unpacked_size INTEGER NOT NULL,   -- bytes of file content, as docker's layer Size
        PRIMARY KEY (image_id, position)
    );
    CREATE INDEX image_layers_by_chain ON image_layers(chain_id);
    -- containerd's leases: whoever uses an image (a container, a build)
    -- holds a lease on it, and rmi/prune leave it alone unless forced.
    CREATE TABLE image_leases (
        image_id TEXT NOT NULL,
        holder TEXT NOT NULL,             -- e.g. container:<id>
        PRIMARY KEY (image_id, holder)
    );
    """,
    # 2: containers (the engine). `spec` is what the user asked for (image,
    # command, host options), fixed at create; the other columns are what
    # happened since, updated by the CLI, the shim's exit command and
    # restarts. Docker's State.Status values: created, running, paused,
    # restarting, removing, exited, dead.
    """
    CREATE TABLE containers (
        id TEXT PRIMARY KEY,              -- 64 hex, docker's container ID
        name TEXT NOT NULL UNIQUE,        -- without docker's leading '/'
        image_id TEXT NOT NULL,           -- config digest
        image_ref TEXT NOT NULL,          -- as given (docker's Config.Image)
        created_at TEXT NOT NULL,         -- RFC 3339, nanoseconds
        spec TEXT NOT NULL,               -- JSON: the engine's ContainerSpec
        status TEXT NOT NULL DEFAULT 'created',
        pid INTEGER NOT NULL DEFAULT 0,
        shim_pid INTEGER NOT NULL DEFAULT 0,
        exit_code INTEGER NOT NULL DEFAULT 0,
        oom_killed INTEGER NOT NULL DEFAULT 0,
        error TEXT NOT NULL DEFAULT '',
        started_at TEXT NOT NULL DEFAULT '0001-01-01T00:00:00Z',
        finished_at TEXT NOT NULL DEFAULT '0001-01-01T00:00:00Z',
        restart_count INTEGER NOT NULL DEFAULT 0,
        stopped_by_user INTEGER NOT NULL DEFAULT 0, -- for unless-stopped and restart decisions
        network TEXT NOT NULL DEFAULT '{}' -- JSON: docker's NetworkSettings
    );
    """,
    # 3: networks (minictr/network). A network is a bridge device with a
    # subnet; an endpoint is one container's attachment to it: its address
    # (unique per network: IPAM is this table, under BEGIN IMMEDIATE), the
    # host end of its veth pair, its published ports, and the hosts file
    # that is rewritten when peers come and go.
    """
    CREATE TABLE networks (
        id TEXT PRIMARY KEY,              -- 64 hex
        name TEXT NOT NULL UNIQUE,
        driver TEXT NOT NULL DEFAULT 'bridge',
        bridge TEXT NOT NULL UNIQUE,      -- the host's bridge device
        subnet TEXT NOT NULL,             -- CIDR, e.g. 10.66.0.0/16
        gateway TEXT NOT NULL,            -- the bridge's address
        created TEXT NOT NULL,            -- RFC 3339, nanoseconds
        labels TEXT NOT NULL DEFAULT '{}', -- JSON object
        internal INTEGER NOT NULL DEFAULT 0,
        is_default INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE endpoints (
        id TEXT PRIMARY KEY,              -- 64 hex, docker's EndpointID
        network_id TEXT NOT NULL REFERENCES networks(id),
        container_id TEXT NOT NULL,
        container_name TEXT NOT NULL,
        hostname TEXT NOT NULL DEFAULT '',
        aliases TEXT NOT NULL DEFAULT '[]',      -- JSON list of names
        ip TEXT NOT NULL,
        mac TEXT NOT NULL,
        host_veth TEXT NOT NULL,
        ports TEXT NOT NULL DEFAULT '[]',        -- JSON: published ports, real host ports
        extra_hosts TEXT NOT NULL DEFAULT '[]',  -- JSON: --add-host [name, ip] pairs
        hosts_path TEXT NOT NULL DEFAULT '',     -- the container's /etc/hosts on the host
        created REAL NOT NULL,
        UNIQUE (network_id, ip),
        UNIQUE (network_id, container_id)
    );
    CREATE INDEX endpoints_by_container ON endpoints(container_id);
    """,
    # 4: the build cache (minictr/build/cache.py). A key is a step's chain
    # (its parent's key and what the step is, after substitution, with the
    # content checksums of what it copies); the value is the layer it made
    # (a JSON LayerRecord, or null for a step that changed no file) and its
    # history entry's created_by.
    """
    CREATE TABLE build_cache (
        key TEXT PRIMARY KEY,             -- sha256:..., engine-independent
        layer TEXT,                       -- JSON LayerRecord fields, NULL: no layer
        created_by TEXT NOT NULL,
        created REAL NOT NULL
    );
    """,
    # 5: what a build cache entry was made from (its parent's key and the
    # step's description, after substitution: never a secret), so that
    # `--explain` can say why a step missed: what differs from the entries
    # made on the same parent before.
    """
    ALTER TABLE build_cache ADD COLUMN parent TEXT NOT NULL DEFAULT '';
    ALTER TABLE build_cache ADD COLUMN what TEXT NOT NULL DEFAULT '';
    CREATE INDEX build_cache_by_parent ON build_cache(parent);
    """,
    # 6: the build context's content checksums by stat (minictr/build/
    # file_sums.py): a file whose device, inode, size, mtime and ctime are
    # all unchanged is not read again to key a COPY.
    """
    CREATE TABLE build_checksums (
        path TEXT PRIMARY KEY,            -- the file's real path on the host
        dev INTEGER NOT NULL,
        ino INTEGER NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        ctime_ns INTEGER NOT NULL,
        digest TEXT NOT NULL              -- sha256 of the content, hex
    );
    """,
]


# Checkpoint the WAL once it holds this many pages (SQLite's default: 1000).
# The CLI leaves without closing the database, so the next process to open
# it is the first and rebuilds the WAL index by reading the whole log: a
# 4 MB log costs ~2 ms of every container start, 400 kB almost nothing,
# and a checkpoint every few runs under 1 ms.
WAL_PAGES = 100


class StateError(MinictrError):
    pass


def connect(path: str) -> sqlite.Connection:
    """Open (creating if needed) the database and bring its schema up to date."""
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    try:
        # one connection per thread all the same (engine.containers.Engine);
        # not checked, so the owner may close them all at the end
        conn = sqlite.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute(f"PRAGMA wal_autocheckpoint={WAL_PAGES}")
        _migrate(conn)
    except sqlite.DatabaseError as e:
        raise StateError(f"{path}: {e}") from None
    conn.row_factory = sqlite.Row
    return conn


def _migrate(conn: sqlite.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise StateError(f"database schema {version} is newer than this minictr knows ({len(MIGRATIONS)})")
    if version == len(MIGRATIONS):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
        for number in range(version, len(MIGRATIONS)):
            for statement in _statements(MIGRATIONS[number]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={number + 1}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _statements(script: str):
    """Split a migration into statements (executescript would commit early)."""
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line.split("--", 1)[0] if "--" in line else line
        if sqlite.complete_statement(buf):
            if buf.strip():
                yield buf.strip()
            buf = ""
    if buf.strip():
        yield buf.strip()


class transaction:
    """`with transaction(conn):` BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error."""

    def __init__(self, conn: sqlite.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, kind, value, tb) -> None:
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")
