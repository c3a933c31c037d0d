"""The tables every service shares (outbox, processed events, idempotency keys) and the
project's constraint naming convention. Tables carry no schema: every connection's
search_path is the service's own schema."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    """A MetaData with the project's constraint naming convention and the shared tables.
    Tables carry no schema: every connection's search_path is the service's own schema."""
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    add_platform_tables(metadata)
    return metadata


def add_platform_tables(metadata: MetaData) -> None:
    Table(
        "outbox",
        metadata,
        Column("id", BigInteger, Identity(always=True), primary_key=True),
        Column("event_id", Uuid, nullable=False),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("event_type", String(200), nullable=False),
        Column("value", LargeBinary, nullable=False),
        Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        # a row the broker refuses for good (too large, say) is parked after the relay's
        # max_attempts: no longer fetched, listed by `koshiqon outbox parked`
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Column("last_error", Text),
        Column("parked_at", DateTime(timezone=True)),
        Index("ix_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
        # the retention delete's: published rows by age
        Index(
            "ix_outbox_published_at", "published_at",
            postgresql_where=text("published_at IS NOT NULL"),
        ),
        Index("ix_outbox_parked", "id", postgresql_where=text("parked_at IS NOT NULL")),
        # values move to the TOAST table, so marking a row published rewrites ~150 bytes,
        # not the whole event: the relay's UPDATE stays cheap whatever the payload size
        postgresql_with={
            "toast_tuple_target": "128",
            # every row is written, updated once and deleted: vacuum early and often
            "autovacuum_vacuum_scale_factor": "0.02",
            "autovacuum_vacuum_insert_scale_factor": "0.02",
        },
    )  # fmt: skip
    Table(
        "processed_events",
        metadata,
        Column("consumer", String(200), primary_key=True),
        Column("event_id", Uuid, primary_key=True),
        Column("event_type", String(200), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    Table(
        "idempotency_keys",
        metadata,
        Column("key", String(200), primary_key=True),
        Column("principal", String(200), primary_key=True),
        Column("route", String(300), nullable=False),
        Column("request_hash", String(64), nullable=False),
        Column("status_code", Integer),
        Column("response_body", LargeBinary),
        Column("response_headers", JSONB),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        # set by the unit of work in the transaction of the request's effect: a claim whose
        # effect committed is never run again, even when its response was never stored
        Column("effect_committed", Boolean, nullable=False, server_default=text("false")),
        Index("ix_idempotency_keys_created_at", "created_at"),
    )
