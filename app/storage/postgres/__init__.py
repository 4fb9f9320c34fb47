"""The PostgreSQL engine: the storage port in Parse Server's PostgreSQL layout (engine.py is the entry)."""
