"""The AsyncAPI 3.0 document of the topics, for subscribers outside the project.

docs/architecture.md §3. Generated from the contracts registry and the topic specs, committed as
`contracts/asyncapi.json` next to the payload schemas it points to (`contracts/events/...`,
see `schemas.py`), and checked by a test so it cannot drift from the code. One channel per
topic that carries events, one `receive` operation per channel (a subscriber's view), one
message per event type: the CloudEvents 1.0 envelope (JSON structured mode) with `data`
referring to the committed payload schema, the record key (the aggregate id, the envelope's
`subject`) and the record headers the outbox relay adds.

    python -m koshiqon.common.events.asyncapi write contracts/asyncapi.json
    python -m koshiqon.common.events.asyncapi check contracts/asyncapi.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from koshiqon.common.events.contracts import REGISTRY, EventContract, Registry, load_all_contracts
from koshiqon.common.events.envelope import Envelope
from koshiqon.common.topics import CONTEXT_TOPICS, TopicSpec

Document = dict[str, Any]

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
CONTENT_TYPE = "application/cloudevents+json"
SCHEMAS_DIRECTORY = "events"  # the payload schemas, relative to the document

_HEADERS = {
    "ce_id": "the event id (the envelope's `id`); consumers deduplicate by it",
    "ce_type": "the event type, as in the envelope",
    "ce_source": "the publishing service, as in the envelope",
    "ce_specversion": "CloudEvents version, 1.0",
    "content-type": CONTENT_TYPE,
    "correlationid": "the correlation id of the request or event that caused this one",
    "traceparent": "W3C Trace Context of the work that published it",
}

_DESCRIPTION = (
    "Domain events of Koshi-qon, the system regulating migration processes after the Model "
    "Rules of Government Decree No. 296 of 25 May 2017. One topic per publishing context; "
    "the record key is the aggregate id, so one aggregate's events arrive in order. Delivery "
    "is at least once: deduplicate by the event id (`id`, also the `ce_id` header). Within a "
    "version, payloads change only by added optional fields; persons appear by id only."
)


def document(
    registry: Registry = REGISTRY, topics: Sequence[TopicSpec] = CONTEXT_TOPICS
) -> Document:
    """The AsyncAPI document of every topic in `topics` that carries a registered type."""
    contracts = list(registry)
    channels: Document = {}
    operations: Document = {}
    for topic in topics:
        carried = [c for c in contracts if c.topic == topic.name]
        if not carried:
            continue
        channels[topic.name] = _channel(topic, carried)
        operations[f"receive-{topic.name}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{_escape(topic.name)}"},
            "summary": f"Subscribe to {topic.name}",
            "messages": [
                {"$ref": f"#/channels/{_escape(topic.name)}/messages/{_escape(c.type)}"}
                for c in carried
            ],
        }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {"title": "Koshi-qon events", "version": "1", "description": _DESCRIPTION},
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": {c.type: _message(c) for c in contracts if c.topic in channels},
            "schemas": {"RecordHeaders": _headers_schema()},
        },
    }


def render(registry: Registry = REGISTRY) -> str:
    """The exact file content: pretty, sorted keys, trailing newline."""
    return json.dumps(document(registry), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _channel(topic: TopicSpec, carried: Sequence[EventContract]) -> Document:
    return {
        "address": topic.name,
        "title": topic.name,
        "description": f"Events of the {carried[0].context} context.",
        "messages": {c.type: {"$ref": f"#/components/messages/{_escape(c.type)}"} for c in carried},
        "bindings": {
            "kafka": {
                "topic": topic.name,
                "partitions": topic.partitions,
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _message(contract: EventContract) -> Document:
    summary = (contract.payload.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    message: Document = {
        "name": contract.type,
        "title": contract.name,
        "contentType": CONTENT_TYPE,
        "headers": {"$ref": "#/components/schemas/RecordHeaders"},
        "payload": _envelope(contract),
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "description": "the aggregate id: the envelope's `subject`",
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }
    if summary:
        message["summary"] = summary
    return message


def _envelope(contract: EventContract) -> Document:
    """The CloudEvents envelope of one type, `data` being its committed payload schema."""
    data_schema = f"{SCHEMAS_DIRECTORY}/{contract.topic}/{contract.type}.json"
    text = {"type": "string"}
    return {
        "type": "object",
        "required": list(Envelope.model_fields),  # a producer writes every attribute
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "source": text,
            "type": {"const": contract.type},
            "specversion": {"const": "1.0"},
            "time": {"type": "string", "format": "date-time"},
            "subject": {**text, "description": "the aggregate id, also the record key"},
            "datacontenttype": {"const": "application/json"},
            "correlationid": text,
            "traceparent": {
                "type": "string",
                "pattern": "^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
            },
            "data": {"$ref": data_schema},
        },
    }


def _headers_schema() -> Document:
    return {
        "type": "object",
        "properties": {
            name: {"type": "string", "description": text} for name, text in _HEADERS.items()
        },
    }


def _escape(name: str) -> str:
    """A name as one JSON Pointer token (RFC 6901)."""
    return name.replace("~", "~0").replace("/", "~1")


def main(argv: Sequence[str] | None = None) -> int:
    """`write FILE` writes the document; `check FILE` exits 1 when FILE is not current."""
    parser = argparse.ArgumentParser(prog="python -m koshiqon.common.events.asyncapi")
    parser.add_argument("command", choices=("write", "check"))
    parser.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    load_all_contracts()
    content = render()
    current = args.path.read_text(encoding="utf-8") if args.path.is_file() else None
    if args.command == "check":
        if current != content:
            print(f"{args.path} is not current: run `make schemas`", file=sys.stderr)
            return 1
        return 0
    if current != content:
        args.path.write_text(content, encoding="utf-8")
    print(args.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
