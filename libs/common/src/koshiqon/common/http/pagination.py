"""Cursor (keyset) pagination.

A cursor is the sort key of the last item of a page, made opaque: base64url (no padding) of
a version byte, the orjson array of the key's values and an 8-byte checksum. The checksum
catches a cursor that was cut, edited or made up; it is not a secret signature, and needs
not be one: a cursor only says where to resume, and every read is authorized on its own.

A route asks for `PageQuery`, fetches `limit + 1` rows after `params.after`, and returns
`make_page(rows, limit=params.limit, cursor_of=...)`::

    @router.get("/persons")
    async def list_persons(params: PageQuery, ...) -> Page[PersonOut]:
        rows = await repository.list_after(params.after, limit=params.limit + 1)
        return make_page(rows, limit=params.limit, cursor_of=lambda p: (p.created, p.id))

Values come back as JSON types (a datetime or UUID as its string): the repository parses
them back where it needs to.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Depends, Query
from pydantic import BaseModel, Field

from koshiqon.common.errors import InvalidInput

T = TypeVar("T")

CURSOR_VERSION = 1
MAX_CURSOR_LENGTH = 1024
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_CHECKSUM_BYTES = 8
_CHECKSUM_KEY = b"koshiqon.cursor"


class Page(BaseModel, Generic[T]):
    """One page of a list; `next_cursor` is None on the last page."""

    items: list[T]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` to get the next page; absent at the end."
    )


def encode_cursor(values: tuple[Any, ...]) -> str:
    """An opaque cursor for the sort key `values` (JSON-serializable by orjson)."""
    payload = orjson.dumps(list(values))
    raw = bytes([CURSOR_VERSION]) + payload + _checksum(payload)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> tuple[Any, ...]:
    """The sort key a cursor holds; `InvalidInput(field="cursor")` (422) for anything else."""
    raw = _unbase64(cursor)
    if len(raw) < 1 + _CHECKSUM_BYTES or raw[0] != CURSOR_VERSION:
        raise _bad_cursor()
    payload, checksum = raw[1:-_CHECKSUM_BYTES], raw[-_CHECKSUM_BYTES:]
    if checksum != _checksum(payload):
        raise _bad_cursor()
    try:
        values = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise _bad_cursor() from None
    if not isinstance(values, list):
        raise _bad_cursor()
    return tuple(values)


def _unbase64(cursor: str) -> bytes:
    if not cursor or len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
        raise _bad_cursor()
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise _bad_cursor() from None


def _checksum(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=_CHECKSUM_BYTES, key=_CHECKSUM_KEY).digest()


def _bad_cursor() -> InvalidInput:
    return InvalidInput("the cursor is not one this API gave out", field="cursor")


@dataclass(frozen=True)
class PageParams:
    """What a list route was asked for: resume after `after` (None: from the start)."""

    cursor: str | None
    limit: int
    after: tuple[Any, ...] | None


async def page_params(  # async: a plain def dependency would run in the thread pool
    cursor: Annotated[
        str | None,
        Query(max_length=MAX_CURSOR_LENGTH, description="`next_cursor` of the previous page"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = DEFAULT_LIMIT,
) -> PageParams:
    after = decode_cursor(cursor) if cursor is not None else None
    return PageParams(cursor=cursor, limit=limit, after=after)


PageQuery = Annotated[PageParams, Depends(page_params)]


def make_page(
    rows: Sequence[T], *, limit: int, cursor_of: Callable[[T], tuple[Any, ...]]
) -> Page[T]:
    """The page of the first `limit` of `rows`, which the caller fetched as `limit + 1` rows:
    an extra row means there is a next page, resuming after the last item shown."""
    items = list(rows[:limit])
    more = len(rows) > limit
    next_cursor = encode_cursor(cursor_of(items[-1])) if more else None
    return Page(items=items, next_cursor=next_cursor)
