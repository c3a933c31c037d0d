"""SQLAlchemy adapters: the tables and every query of the quota service."""
