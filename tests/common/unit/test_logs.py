"""JSON log lines: time, level, service, dotted event name, correlation id, extra fields."""

from __future__ import annotations

import io
import logging
import sys

import asyncpg
import orjson
import pytest

from koshiqon.common import logs
from koshiqon.common.errors import InvalidInput
from koshiqon.common.logs import JsonFormatter, correlation_id


def render(record: logging.LogRecord) -> dict[str, object]:
    return orjson.loads(JsonFormatter("quota").format(record))  # type: ignore[no-any-return]


def make_record(event: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("koshiqon.quota", logging.INFO, __file__, 1, event, None, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_a_line_carries_the_fixed_fields_and_the_extras() -> None:
    token = correlation_id.set("c-123")
    try:
        line = render(make_record("quota.reserved", application_id="a-1", persons=4))
    finally:
        correlation_id.reset(token)
    assert line["event"] == "quota.reserved"
    assert line["level"] == "info"
    assert line["service"] == "quota"
    assert line["correlation_id"] == "c-123"
    assert line["application_id"] == "a-1"
    assert line["persons"] == 4
    assert str(line["time"]).endswith("+00:00")


def test_no_correlation_id_outside_a_request_or_event() -> None:
    assert "correlation_id" not in render(make_record("outbox.relay-leading"))


def test_exceptions_are_rendered_in_the_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = make_record("consumer.retry")
        record.exc_info = sys.exc_info()
    assert "ValueError: boom" in str(render(record)["exception"])


# --- database error details (issue 12, item 20; the real errors: tests/common/integration/
# test_error_scrubbing.py) -----------------------------------------------------------------

IIN = "791028302728"


@pytest.mark.parametrize(
    ("text", "kept", "dropped"),
    [
        (
            'duplicate key value violates unique constraint "persons_iin_key"\n'
            f"DETAIL:  Key (iin)=({IIN}) already exists.",
            "DETAIL:  Key (iin)=(…)",
            IIN,
        ),
        (
            f"DETAIL:  Failing row contains ({IIN}, Seitkali, 1979-10-28).",
            "DETAIL:  Failing row contains (…)",
            "Seitkali",
        ),
        (f"DETAIL:  a detail naming {IIN}", "DETAIL:  (withheld)", IIN),
        (
            f"[SQL: INSERT INTO persons VALUES ($1)]\n[parameters: ('{IIN}',)]",
            "[SQL: INSERT INTO persons VALUES ($1)]\n[parameters: (withheld)]",
            IIN,
        ),
        (f'invalid input syntax for type uuid: "{IIN}"', 'for type uuid: "…"', IIN),
        (
            f"UniqueViolationError('dup', 'DETAIL:  Key (a, b)=({IIN}, x) already exists.')",
            "Key (a, b)=(…)",
            IIN,
        ),
    ],
)
def test_scrub_text_drops_the_values(text: str, kept: str, dropped: str) -> None:
    scrubbed = logs.scrub_text(text)
    assert kept in scrubbed
    assert dropped not in scrubbed


def test_other_errors_are_left_alone() -> None:
    assert logs.safe_error_text(ValueError("boom")) == "boom"
    refused = InvalidInput("not a region code: 750000000", field="region")
    assert logs.safe_error_text(refused) == str(refused)


def test_a_multiline_detail_is_withheld_whole() -> None:
    """The DETAIL of an asyncpg error is replaced as a whole, even over several lines (a
    failing row whose text has a newline)."""
    error = asyncpg.CheckViolationError('new row violates check constraint "c"')
    error.detail = f"Failing row contains ({IIN}, first line\nsecond line Seitkali)."
    assert "Seitkali" in str(error)
    safe = logs.safe_error_text(error)
    assert "Seitkali" not in safe
    assert IIN not in safe
    assert safe.endswith("DETAIL:  Failing row contains (…)")


def test_the_filter_scrubs_what_any_formatter_prints() -> None:
    error = asyncpg.UniqueViolationError('duplicate key value violates unique constraint "k"')
    error.detail = f"Key (iin)=({IIN}) already exists."
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(message)s %(error)s"))
    handler.addFilter(logs.ScrubFilter())
    log = logging.getLogger("koshiqon.test-logs.filter")
    log.addHandler(handler)
    log.propagate = False
    try:
        try:
            raise RuntimeError("wrapped") from error
        except RuntimeError:
            log.exception("failed: %s", error, extra={"error": error})
    finally:
        log.removeHandler(handler)
        log.propagate = True
    printed = out.getvalue()
    assert IIN not in printed
    assert printed.count("Key (iin)=(…)") == 3  # the message, the field, the traceback


def test_json_lines_scrub_tracebacks() -> None:
    error = asyncpg.UniqueViolationError('duplicate key value violates unique constraint "k"')
    error.detail = f"Key (iin)=({IIN}) already exists."
    try:
        raise error
    except asyncpg.UniqueViolationError:
        record = make_record("consumer.retry")
        record.exc_info = sys.exc_info()
    exception = str(render(record)["exception"])
    assert IIN not in exception
    assert "UniqueViolationError" in exception


def test_configure_installs_the_filter() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure("quota")
        assert any(isinstance(f, logs.ScrubFilter) for f in root.handlers[0].filters)
    finally:
        root.handlers[:], root.level = saved
