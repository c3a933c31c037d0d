"""JSON Schemas of the event payloads: export, and the backward-compatibility check.

docs/architecture.md §3: every event type has a JSON Schema generated from its model and committed
under `contracts/events/<topic>/<type>.json`; within a version only additive, optional
fields are allowed.

Schemas are generated in pydantic's *serialization* mode: they describe the bytes producers
put on the wire (`make_event` dumps with `model_dump(mode="json")`), which is what external
subscribers read and what the AsyncAPI document points to. Validation mode would describe what
our own lax decoder accepts instead (a `Decimal` as number *or* string) and would miss a
change of a custom serializer. Fields with a default stay optional in both modes, so
`required` means the same thing in either.

Compatibility means both directions, because both happen during a rolling deploy and on replay:
consumers of the old schema read new events, and consumers of the new schema read old events.
Hence removed or renamed properties, changed types, formats, constraints and nullability, new
required properties and properties that became required are all problems. A required property
that gets a default is fine: producers always serialize every field.

Enum policy: adding a value is allowed, removing one is not. A consumer that does not yet
know the value dead-letters the event (`decode` raises `PermanentEventError`), so deploy the
consumers before the producer that emits the new value. Dropping the enum restriction
altogether, or restricting a free value to an enum, is a type change.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from koshiqon.common.events.contracts import (
    REGISTRY,
    EventContract,
    Registry,
    load_all_contracts,
)

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
CONSTRAINTS = (
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
)

Schema = dict[str, Any]


# --- export -----------------------------------------------------------------------------


def schema_for(contract: EventContract) -> Schema:
    """The committed JSON Schema of one event type (serialization mode, see module doc)."""
    schema = contract.payload.model_json_schema(mode="serialization")
    schema.update(
        {
            "$schema": JSON_SCHEMA_DIALECT,
            "$id": contract.type,
            "title": contract.payload.__name__,
            "x-topic": contract.topic,
        }
    )
    return schema


def render(contract: EventContract) -> str:
    """The exact file content: pretty, sorted keys, trailing newline."""
    return json.dumps(schema_for(contract), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schema_path(directory: Path, contract: EventContract) -> Path:
    return directory / contract.topic / f"{contract.type}.json"


def export(directory: Path, *, registry: Registry = REGISTRY) -> list[Path]:
    """Write `<directory>/<topic>/<type>.json` for every registered type; returns the paths.

    Files of types no longer registered are left alone: `compare_directory` reports them.
    """
    paths = []
    for contract in registry:
        path = schema_path(directory, contract)
        content = render(contract)
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        paths.append(path)
    return paths


# --- compatibility ----------------------------------------------------------------------


@dataclass
class _Comparison:
    """One old/new schema pair: the roots resolve `$ref`s, `problems` collects findings."""

    old_root: Schema
    new_root: Schema
    problems: list[str] = field(default_factory=list)
    in_progress: set[tuple[str, str]] = field(default_factory=set)

    def report(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")


def check_compatible(old: Schema, new: Schema) -> list[str]:
    """Why `new` is not backward compatible with `old`; empty when it is."""
    comparison = _Comparison(old_root=old, new_root=new)
    _compare(comparison, old, new, "$")
    return comparison.problems


class _Variant(NamedTuple):
    """One alternative of a value, resolved; `ref` names the definition it came from."""

    ref: str
    schema: Schema


def _compare(cmp: _Comparison, old: Schema, new: Schema, path: str) -> None:
    old_variants = _variants(cmp.old_root, old)
    new_variants = _variants(cmp.new_root, new)
    _compare_nullability(cmp, old_variants, new_variants, path)
    _compare_variants(cmp, _not_null(old_variants), _not_null(new_variants), path)


def _resolve(root: Schema, node: Schema) -> Schema:
    """Follow local `$ref`s (`#/$defs/Name`); the definition wins over sibling keywords."""
    seen: set[str] = set()
    while isinstance(ref := node.get("$ref"), str) and ref.startswith("#") and ref not in seen:
        seen.add(ref)
        target: Any = root
        for part in ref.removeprefix("#").strip("/").split("/"):
            if part:
                target = target[part.replace("~1", "/").replace("~0", "~")]
        node = {**{k: v for k, v in node.items() if k != "$ref"}, **target}
    return node


def _variants(root: Schema, node: Schema) -> list[_Variant]:
    """The alternatives a value may take: `anyOf`/`oneOf` members, or a list of `type`s."""
    ref = node.get("$ref", "")
    resolved = _resolve(root, node)
    for keyword in ("anyOf", "oneOf"):
        if isinstance(members := resolved.get(keyword), list):
            return [variant for member in members for variant in _variants(root, member)]
    if isinstance(types := resolved.get("type"), list):
        return [_Variant(ref, {**resolved, "type": type_}) for type_ in types]
    return [_Variant(ref, resolved)]


def _is_null(variant: _Variant) -> bool:
    return variant.schema.get("type") == "null" or variant.schema.get("const", ...) is None


def _not_null(variants: list[_Variant]) -> list[_Variant]:
    return [variant for variant in variants if not _is_null(variant)]


def _compare_nullability(
    cmp: _Comparison, old: list[_Variant], new: list[_Variant], path: str
) -> None:
    old_nullable, new_nullable = any(map(_is_null, old)), any(map(_is_null, new))
    if old_nullable and not new_nullable:
        cmp.report(path, "is no longer nullable (Optional removed)")
    elif new_nullable and not old_nullable:
        cmp.report(path, "became nullable")


def _compare_variants(
    cmp: _Comparison, old: list[_Variant], new: list[_Variant], path: str
) -> None:
    if len(old) == 1 and len(new) == 1:
        _compare_one(cmp, old[0], new[0], path)
        return
    old_by_kind = {_kind(variant.schema): variant for variant in old}
    new_by_kind = {_kind(variant.schema): variant for variant in new}
    if old_by_kind.keys() != new_by_kind.keys():
        old_kinds, new_kinds = " | ".join(old_by_kind), " | ".join(new_by_kind)
        cmp.report(path, f"type changed from {old_kinds or 'nothing'} to {new_kinds or 'nothing'}")
        return
    for kind, variant in old_by_kind.items():
        _compare_one(cmp, variant, new_by_kind[kind], path)


def _kind(variant: Schema) -> str:
    """A short name of a variant's shape: `string(date-time)`, `object Address`, `any`."""
    kind = str(variant.get("type", "any"))
    if "format" in variant:
        kind += f"({variant['format']})"
    if kind == "object" and "title" in variant:
        kind += f" {variant['title']}"
    return kind


def _compare_one(cmp: _Comparison, old: _Variant, new: _Variant, path: str) -> None:
    refs = (old.ref, new.ref)
    if refs in cmp.in_progress:  # a recursive model, already being compared further up
        return
    if refs != ("", ""):
        cmp.in_progress.add(refs)
    _compare_shape(cmp, old.schema, new.schema, path)
    cmp.in_progress.discard(refs)


def _compare_shape(cmp: _Comparison, old: Schema, new: Schema, path: str) -> None:
    if old.get("type") != new.get("type") or old.get("format") != new.get("format"):
        cmp.report(path, f"type changed from {_kind(old)} to {_kind(new)}")
        return
    _compare_enum(cmp, old, new, path)
    for keyword in CONSTRAINTS:
        if old.get(keyword) != new.get(keyword):
            was, now = old.get(keyword, "none"), new.get(keyword, "none")
            cmp.report(path, f"constraint {keyword} changed from {was} to {now}")
    if old.get("type") == "object":
        _compare_object(cmp, old, new, path)
    if old.get("type") == "array":
        _compare_array(cmp, old, new, path)


def _enum_values(node: Schema) -> list[Any] | None:
    if isinstance(values := node.get("enum"), list):
        return values
    if "const" in node:
        return [node["const"]]
    return None


def _compare_enum(cmp: _Comparison, old: Schema, new: Schema, path: str) -> None:
    old_values, new_values = _enum_values(old), _enum_values(new)
    if old_values is None and new_values is not None:
        cmp.report(path, f"is now restricted to the values {new_values}")
    elif old_values is not None and new_values is None:
        cmp.report(path, "is no longer restricted to enum values")
    elif old_values is not None and new_values is not None:
        removed = [value for value in old_values if value not in new_values]
        if removed:
            cmp.report(path, f"enum values removed: {removed}")


def _compare_object(cmp: _Comparison, old: Schema, new: Schema, path: str) -> None:
    old_props: Schema = old.get("properties", {})
    new_props: Schema = new.get("properties", {})
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    added = [name for name in new_props if name not in old_props]
    for name, old_prop in old_props.items():
        if name not in new_props:
            hint = f" (renamed to {', '.join(added)}?)" if added else ""
            cmp.report(f"{path}.{name}", f"property removed{hint}")
        else:
            _compare(cmp, old_prop, new_props[name], f"{path}.{name}")
    for name in sorted(new_required - old_required):
        message = "became required" if name in old_props else "new required property"
        cmp.report(f"{path}.{name}", message)
    _compare_additional(cmp, old, new, path)


def _compare_additional(cmp: _Comparison, old: Schema, new: Schema, path: str) -> None:
    """Map values (`dict[str, X]`): a schema on both sides is compared, a change of kind is
    reported; `true`/`false`/absent are treated alike (extra fields are ignored)."""
    old_extra, new_extra = old.get("additionalProperties"), new.get("additionalProperties")
    if isinstance(old_extra, dict) and isinstance(new_extra, dict):
        _compare(cmp, old_extra, new_extra, f"{path}{{}}")
    elif isinstance(old_extra, dict) or isinstance(new_extra, dict):
        cmp.report(path, "changed between a map and a record")


def _compare_array(cmp: _Comparison, old: Schema, new: Schema, path: str) -> None:
    old_prefix, new_prefix = old.get("prefixItems", []), new.get("prefixItems", [])
    if len(old_prefix) != len(new_prefix):
        cmp.report(path, f"tuple length changed from {len(old_prefix)} to {len(new_prefix)}")
    for index, (old_item, new_item) in enumerate(zip(old_prefix, new_prefix, strict=False)):
        _compare(cmp, old_item, new_item, f"{path}[{index}]")
    old_items, new_items = old.get("items"), new.get("items")
    if isinstance(old_items, dict) or isinstance(new_items, dict):
        _compare(cmp, _as_schema(old_items), _as_schema(new_items), f"{path}[]")


def _as_schema(items: object) -> Schema:
    """`items` absent or `true` allows anything; `false` (after prefixItems) allows nothing."""
    if isinstance(items, dict):
        return items
    return {"not": {}} if items is False else {}


# --- the committed directory ------------------------------------------------------------


def _committed(directory: Path) -> Iterator[tuple[Path, Schema]]:
    for path in sorted(directory.glob("*/*.json")):
        yield path, json.loads(path.read_text(encoding="utf-8"))


def compare_directory(directory: Path, *, registry: Registry = REGISTRY) -> list[str]:
    """Problems of the current registry against the committed schemas. New types are fine."""
    problems = []
    for path, committed in _committed(directory):
        type_ = str(committed.get("$id", path.stem))
        if type_ not in registry:
            problems.append(f"{type_}: event type removed (committed in {path})")
            continue
        contract = registry.get(type_)
        if contract.topic != path.parent.name:
            problems.append(f"{type_}: topic changed from {path.parent.name} to {contract.topic}")
        current = schema_for(contract)
        problems += [f"{type_}: {problem}" for problem in check_compatible(committed, current)]
    return problems


def outdated(directory: Path, *, registry: Registry = REGISTRY) -> list[str]:
    """Registered types whose committed schema is missing or differs from the export."""
    problems = []
    for contract in registry:
        path = schema_path(directory, contract)
        if not path.is_file():
            problems.append(f"{contract.type}: no committed schema at {path} (run make schemas)")
        elif path.read_text(encoding="utf-8") != render(contract):
            problems.append(f"{contract.type}: {path} is out of date (run make schemas)")
    return problems


# --- command line -----------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """`export DIR` writes the schemas (refusing incompatible changes unless --force);
    `check DIR` reports incompatible changes and missing or stale files. Exit 1 on problems."""
    parser = argparse.ArgumentParser(prog="python -m koshiqon.common.events.schemas")
    commands = parser.add_subparsers(dest="command", required=True)
    export_command = commands.add_parser("export", help="write <DIR>/<topic>/<type>.json")
    export_command.add_argument("directory", type=Path)
    export_command.add_argument(
        "--force", action="store_true", help="write even if not backward compatible"
    )
    check_command = commands.add_parser("check", help="compare the registry to <DIR>")
    check_command.add_argument("directory", type=Path)
    args = parser.parse_args(argv)

    load_all_contracts()
    problems = compare_directory(args.directory)
    if args.command == "check":
        problems += outdated(args.directory)
    elif not problems or args.force:
        for path in export(args.directory):
            print(path)
        return 0
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
