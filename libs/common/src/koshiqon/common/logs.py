"""Structured logs: one JSON object a line with time, level, service, a dotted event name and
the correlation id of the request or event being handled.

Call sites log a dotted event name and pass values in `extra`, never an f-string:
``log.info("outbox.relay-leading", extra={"schema": schema})``. Personal data (names, IIN)
is never logged.

Nor does it slip in with an error: PostgreSQL puts the offending values in an error's DETAIL
(`Key (iin)=(791028302728) already exists.`, `Failing row contains (...)`), asyncpg appends
the DETAIL to `str(error)` and SQLAlchemy adds the statement's `[parameters: ...]`. Text made
from an error goes through `safe_error_text(error)` (a log field, a dead letter's
`dlq.error.message` header), which keeps the message and the constraint's name and drops the
values; `configure` also puts `ScrubFilter` on its handler, which does the same to every
record's message, string and exception fields and traceback, whatever the call site passed.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import traceback
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import asyncpg
import orjson

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None
)

_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "color_message"}  # uvicorn's terminal-coloured duplicate
)


WITHHELD = "(withheld)"

_KEY = re.compile(r"Key \(([^)\n]*)\)=\([^\n]*")
_FAILING_ROW = re.compile(r"Failing row contains [^\n]*")
_DETAIL = re.compile(r"DETAIL:( *)([^\n]*)")
_PARAMETERS = re.compile(r"\[parameters: [^\n]*")
_QUOTED_INPUT = re.compile(
    r"((?:invalid input (?:syntax|value)|out of range|invalid byte sequence)[^:\n]*): \"[^\"\n]*\""
)


def safe_error_text(error: BaseException) -> str:
    """`str(error)` without the values a database error carries: its DETAIL (`Key (iin)=(…)`
    is kept with the columns, a failing row and any other detail are withheld), SQLAlchemy's
    `[parameters: ...]`, and the quoted input of an `invalid input syntax` message. The
    message itself (`duplicate key value violates unique constraint "persons_iin_key"`), the
    constraint's name and the statement stay."""
    return _scrub(str(error), [error])


def scrub_text(text: str) -> str:
    """`text` (a message, a `repr(error)`, a traceback) with what `safe_error_text` drops
    dropped, as far as the text alone shows it."""
    return _scrub(text, ())


def _scrub(text: str, errors: Iterable[BaseException]) -> str:
    for detail in _database_details(errors):
        text = text.replace(detail, _redacted_detail(detail))
    if not _MARKERS.search(text):
        return text
    text = _DETAIL.sub(lambda m: f"DETAIL:{m[1]}{_redacted_detail(m[2])}", text)
    text = _KEY.sub(r"Key (\1)=(…)", text)
    text = _FAILING_ROW.sub("Failing row contains (…)", text)
    text = _PARAMETERS.sub(f"[parameters: {WITHHELD}]", text)
    return _QUOTED_INPUT.sub(r'\1: "…"', text)


_MARKERS = re.compile(
    r"Key \(|Failing row|DETAIL:|\[parameters: |invalid input|out of range|invalid byte sequence"
)


def _redacted_detail(detail: str) -> str:
    if detail.startswith(("Key (", "Key (…)")) and (key := _KEY.match(detail)) is not None:
        return f"Key ({key[1]})=(…)"
    if detail.startswith("Failing row contains"):
        return "Failing row contains (…)"
    return detail if detail in (WITHHELD, "") else WITHHELD


def _database_details(errors: Iterable[BaseException]) -> Iterator[str]:
    """The DETAIL of every PostgreSQL error in the chains of `errors` (`__cause__`,
    `__context__`, SQLAlchemy's `orig`), longest first."""
    found: set[str] = set()
    seen: set[int] = set()
    pending = list(errors)
    while pending and len(seen) < 64:
        error = pending.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        detail = error.detail if isinstance(error, asyncpg.PostgresError) else None
        if isinstance(detail, str) and detail:
            found.add(detail)
        for linked in (getattr(error, "orig", None), error.__cause__, error.__context__):
            if isinstance(linked, BaseException):
                pending.append(linked)
    yield from sorted(found, key=len, reverse=True)


ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def _safe_traceback(exc_info: ExcInfo | tuple[None, None, None]) -> str:
    kind, error, tb = exc_info
    if error is None:
        return ""
    rendered = "".join(traceback.format_exception(kind, error, tb)).rstrip("\n")
    return _scrub(rendered, [error])


class ScrubFilter(logging.Filter):
    """Drops database error details from every record it sees (see `safe_error_text`): the
    message with its arguments, each extra field that is an exception or a string, and the
    traceback (put in `exc_text`, which formatters print instead of formatting their own).
    On a handler, it sees the records of every logger that reaches it."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else (record.args,)
        errors = [arg for arg in args or () if isinstance(arg, BaseException)]
        record.msg, record.args = _scrub(record.getMessage(), errors), None
        for key, value in list(vars(record).items()):
            if key in _STANDARD or key.startswith("_"):
                continue
            if isinstance(value, BaseException):
                setattr(record, key, safe_error_text(value))
            elif isinstance(value, str):
                setattr(record, key, scrub_text(value))
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = _safe_traceback(record.exc_info)
        elif record.exc_text:
            record.exc_text = scrub_text(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "event": record.getMessage(),
            "logger": record.name,
        }
        if (cid := correlation_id.get()) is not None:
            entry["correlation_id"] = cid
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = _safe_traceback(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure(service: str, level: str = "INFO") -> None:
    """Route every logger (ours, uvicorn's, aiokafka's) through one JSON handler on stderr,
    which drops database error details from every record (`ScrubFilter`)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    handler.addFilter(ScrubFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
