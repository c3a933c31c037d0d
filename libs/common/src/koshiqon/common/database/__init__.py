"""PostgreSQL for a service: `engine` (SQLAlchemy engines and sessions, the process's one
pool), `driver` (asyncpg-level helpers on connections borrowed from it), `tables` (the shared
outbox, processed events and idempotency keys) and `roles` (the role and schema bootstrap)."""
