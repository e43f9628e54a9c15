"""Persistence: schema, engine, unit of work, migrations."""
