"""JSON log lines: time, level, service, dotted event name, correlation id, extra fields."""

from __future__ import annotations

import logging
import sys

import orjson

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
