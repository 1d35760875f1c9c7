"""Store ports and their adapters: in-memory, and SQL (SQLite by default, or PostgreSQL), schema by migrations."""
