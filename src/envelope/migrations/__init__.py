"""Alembic migrations of the SQL store's schema (`envelope.store.schema`).

`SQLStore.open()` upgrades to the newest revision through `envelope.store.migrate`;
nothing here is imported by the gateway. A schema change is a new file in `versions/`
that leaves the older ones alone; `alembic_config(url)` in `envelope.store.migrate`
gives Alembic's `command.revision(..., autogenerate=True)` what it needs to draft one.
"""
