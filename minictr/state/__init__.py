"""Metadata in SQLite (WAL) and file locks: one schema, migrations in order.
Knows nothing above it."""
