"""Where the data lives: the engine and sessions, the tables, and the Alembic migrations."""
