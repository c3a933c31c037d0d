"""The quota service's adapters to PostgreSQL: its tables and its repositories (SQLAlchemy
Core over the unit of work's connection)."""
