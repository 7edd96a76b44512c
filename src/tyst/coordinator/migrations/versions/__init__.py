"""Alembic revisions of the coordinator's schema, applied in order by ``upgrade``."""
