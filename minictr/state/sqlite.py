"""SQLite for the engine's database, from the C module the sqlite3 package
wraps. The package's Python half (sqlite3.dbapi2) imports datetime and
collections to register date adapters minictr never uses: ~2.5 ms of every
container start. Where the C module is not built separately, the package."""
from __future__ import annotations

try:
    from _sqlite3 import Connection, DatabaseError, IntegrityError, Row, complete_statement, connect
except ImportError:  # pragma: no cover - CPython always has it
    from sqlite3 import Connection, DatabaseError, IntegrityError, Row, complete_statement, connect

__all__ = ["Connection", "DatabaseError", "IntegrityError", "Row", "complete_statement", "connect"]
