"""Store ports and their adapters: in-memory, and SQL (SQLite by default, PostgreSQL later)."""
