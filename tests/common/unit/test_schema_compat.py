"""The backward-compatibility check of event schemas, export and the committed directory.

Old and new versions of a payload are written as two pydantic models, as a developer would
change them; contracts live in test-only registries under the `selftest` context.
"""

from __future__ import annotations

import enum
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import Field

from koshiqon.common.events import EventPayload, event
from koshiqon.common.events.contracts import Registry
from koshiqon.common.events.schemas import (
    check_compatible,
    compare_directory,
    export,
    main,
    outdated,
    schema_for,
)

TOPIC = "selftest.v1"


def schema_of(payload: type[EventPayload], name: str = "territory-changed") -> dict[str, Any]:
    """The committed-schema form of `payload`, as if it were the `name` event type."""
    registry = Registry()
    event("selftest", name, topic=TOPIC, registry=registry)(payload)
    return schema_for(registry.get(f"kz.migration.selftest.{name}.v1"))


def problems(old: type[EventPayload], new: type[EventPayload]) -> list[str]:
    return check_compatible(schema_of(old), schema_of(new))


class Kind(enum.StrEnum):
    KANDAS = "kandas"
    RESETTLER = "resettler"


class KindPlus(enum.StrEnum):
    KANDAS = "kandas"
    RESETTLER = "resettler"
    STUDENT = "student"


class KindMinus(enum.StrEnum):
    KANDAS = "kandas"


class Address(EventPayload):
    kato: str
    street: str | None = None


class AddressWithoutKato(EventPayload):
    street: str | None = None


class Person(EventPayload):
    iin: str
    kind: Kind
    address: Address
    moved_on: date
    family: list[Address] = []
    note: str | None = None


# --- incompatible changes --------------------------------------------------------------


def test_removed_property_is_incompatible() -> None:
    class New(EventPayload):
        iin: str
        kind: Kind
        address: Address
        moved_on: date
        family: list[Address] = []

    assert problems(Person, New) == ["$.note: property removed"]


def test_renamed_property_is_incompatible() -> None:
    class New(EventPayload):
        person_iin: str
        kind: Kind
        address: Address
        moved_on: date
        family: list[Address] = []
        note: str | None = None

    assert problems(Person, New) == [
        "$.iin: property removed (renamed to person_iin?)",
        "$.person_iin: new required property",
    ]


def test_changed_type_is_incompatible() -> None:
    class New(EventPayload):
        iin: int
        kind: Kind
        address: Address
        moved_on: date
        family: list[Address] = []
        note: str | None = None

    assert problems(Person, New) == ["$.iin: type changed from string to integer"]


def test_changed_format_is_incompatible() -> None:
    class New(EventPayload):
        iin: str
        kind: Kind
        address: Address
        moved_on: datetime
        family: list[Address] = []
        note: str | None = None

    assert problems(Person, New) == [
        "$.moved_on: type changed from string(date) to string(date-time)"
    ]


def test_new_required_property_is_incompatible() -> None:
    class New(Person):
        akimat: str

    assert problems(Person, New) == ["$.akimat: new required property"]


def test_optional_property_that_became_required_is_incompatible() -> None:
    class Old(EventPayload):
        iin: str
        note: str = ""

    class New(EventPayload):
        iin: str
        note: str

    assert problems(Old, New) == ["$.note: became required"]


def test_removed_property_of_a_nested_object_is_incompatible() -> None:
    class New(EventPayload):
        iin: str
        kind: Kind
        address: AddressWithoutKato
        moved_on: date
        family: list[AddressWithoutKato] = []
        note: str | None = None

    assert problems(Person, New) == [
        "$.address.kato: property removed",
        "$.family[].kato: property removed",
    ]


def test_changed_array_item_type_is_incompatible() -> None:
    class Old(EventPayload):
        iins: list[str]

    class New(EventPayload):
        iins: list[int]

    assert problems(Old, New) == ["$.iins[]: type changed from string to integer"]


def test_removed_optional_is_incompatible() -> None:
    class New(EventPayload):
        iin: str
        kind: Kind
        address: Address
        moved_on: date
        family: list[Address] = []
        note: str = ""

    assert problems(Person, New) == ["$.note: is no longer nullable (Optional removed)"]


def test_removed_optional_of_a_nested_object_is_incompatible() -> None:
    class Old(EventPayload):
        address: Address | None

    class New(EventPayload):
        address: Address

    assert problems(Old, New) == ["$.address: is no longer nullable (Optional removed)"]


def test_property_that_became_nullable_is_incompatible() -> None:
    class Old(EventPayload):
        iin: str

    class New(EventPayload):
        iin: str | None

    assert problems(Old, New) == ["$.iin: became nullable"]


def test_removed_enum_value_is_incompatible() -> None:
    class New(EventPayload):
        iin: str
        kind: KindMinus
        address: Address
        moved_on: date
        family: list[Address] = []
        note: str | None = None

    assert problems(Person, New) == ["$.kind: enum values removed: ['resettler']"]


def test_changed_literal_is_incompatible() -> None:
    class Old(EventPayload):
        decision: Literal["approved"]

    class New(EventPayload):
        decision: Literal["rejected"]

    assert problems(Old, New) == ["$.decision: enum values removed: ['approved']"]


@pytest.mark.parametrize(
    ("old_field", "new_field", "expected"),
    [
        pytest.param(str, Kind, "is now restricted to the values", id="free text to enum"),
        pytest.param(Kind, str, "is no longer restricted", id="enum to free text"),
    ],
)
def test_adding_or_dropping_the_enum_restriction_is_incompatible(
    old_field: type, new_field: type, expected: str
) -> None:
    class Old(EventPayload):
        kind: old_field  # type: ignore[valid-type]

    class New(EventPayload):
        kind: new_field  # type: ignore[valid-type]

    (problem,) = problems(Old, New)
    assert expected in problem


def test_changed_constraint_is_incompatible() -> None:
    class Old(EventPayload):
        kato: str = Field(pattern=r"^\d{9}$")

    class New(EventPayload):
        kato: str = Field(pattern=r"^\d{12}$")

    assert problems(Old, New) == [r"$.kato: constraint pattern changed from ^\d{9}$ to ^\d{12}$"]


def test_changed_map_value_type_is_incompatible() -> None:
    class Old(EventPayload):
        quotas: dict[str, int]

    class New(EventPayload):
        quotas: dict[str, str]

    assert problems(Old, New) == ["$.quotas{}: type changed from integer to string"]


def test_changed_union_is_incompatible() -> None:
    class Old(EventPayload):
        value: int | str

    class New(EventPayload):
        value: int | float

    assert problems(Old, New) == ["$.value: type changed from integer | string to integer | number"]


# --- compatible changes ----------------------------------------------------------------


def test_identical_schemas_are_compatible() -> None:
    assert problems(Person, Person) == []


def test_new_optional_property_is_compatible() -> None:
    class New(Person):
        maslikhat_decision: str | None = None
        family_size: int = 1

    assert problems(Person, New) == []


def test_new_optional_property_of_a_nested_object_is_compatible() -> None:
    class AddressWithFlat(Address):
        flat: str | None = None

    class New(EventPayload):
        iin: str
        kind: Kind
        address: AddressWithFlat
        moved_on: date
        family: list[AddressWithFlat] = []
        note: str | None = None

    assert problems(Person, New) == []


def test_new_enum_value_is_compatible() -> None:
    class New(EventPayload):
        iin: str
        kind: KindPlus
        address: Address
        moved_on: date
        family: list[Address] = []
        note: str | None = None

    assert problems(Person, New) == []


def test_description_title_and_default_changes_are_compatible() -> None:
    class New(EventPayload):
        """Now with a description."""

        iin: str = Field(description="The person's IIN, 12 digits.", title="IIN")
        kind: Kind
        address: Address = Field(description="Where the person lives now.")
        moved_on: date
        family: list[Address] = Field(default_factory=list, description="Family members.")
        note: str | None = "none"

    assert problems(Person, New) == []


def test_required_property_that_got_a_default_is_compatible() -> None:
    class Old(EventPayload):
        family_size: int

    class New(EventPayload):
        family_size: int = 1

    assert problems(Old, New) == []


def test_recursive_models_are_compared() -> None:
    class Node(EventPayload):
        kato: str
        children: list[Node] = []

    class NodeV2(EventPayload):
        kato: int
        children: list[NodeV2] = []

    Node.model_rebuild()
    NodeV2.model_rebuild()
    old = schema_of(Node)

    assert check_compatible(old, old) == []
    assert "$.kato: type changed from string to integer" in check_compatible(old, schema_of(NodeV2))


# --- export and the committed directory ------------------------------------------------


class Moved(EventPayload):
    """A person moved to another territory."""

    iin: str
    to_kato: str


class Reserved(EventPayload):
    quota_id: int


def selftest_registry() -> Registry:
    registry = Registry()
    event("selftest", "person-moved", topic=TOPIC, registry=registry)(Moved)
    event("selftest", "quota-reserved", topic="selftest-quota.v1", registry=registry)(Reserved)
    return registry


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*.json"))
    }


def test_export_writes_one_file_per_type_under_its_topic(tmp_path: Path) -> None:
    paths = export(tmp_path, registry=selftest_registry())

    assert [str(path.relative_to(tmp_path)) for path in paths] == [
        "selftest.v1/kz.migration.selftest.person-moved.v1.json",
        "selftest-quota.v1/kz.migration.selftest.quota-reserved.v1.json",
    ]
    schema = json.loads(paths[0].read_text(encoding="utf-8"))
    assert schema["$id"] == "kz.migration.selftest.person-moved.v1"
    assert schema["title"] == "Moved"
    assert schema["x-topic"] == TOPIC
    assert schema["required"] == ["iin", "to_kato"]


def test_export_is_deterministic(tmp_path: Path) -> None:
    export(tmp_path / "first", registry=selftest_registry())
    export(tmp_path / "second", registry=selftest_registry())
    first = snapshot(tmp_path / "first")

    assert first == snapshot(tmp_path / "second")
    assert all(content.endswith(b"}\n") for content in first.values())
    (content, *_) = first.values()
    assert content.decode() == json.dumps(json.loads(content), indent=2, sort_keys=True) + "\n"


def test_the_exported_directory_is_compatible_with_its_registry(tmp_path: Path) -> None:
    registry = selftest_registry()
    export(tmp_path, registry=registry)

    assert compare_directory(tmp_path, registry=registry) == []
    assert outdated(tmp_path, registry=registry) == []


def test_compare_directory_flags_removed_types(tmp_path: Path) -> None:
    export(tmp_path, registry=selftest_registry())
    registry = Registry()
    event("selftest", "person-moved", topic=TOPIC, registry=registry)(Moved)

    (problem,) = compare_directory(tmp_path, registry=registry)
    assert problem.startswith("kz.migration.selftest.quota-reserved.v1: event type removed")


def test_compare_directory_flags_incompatible_changes_and_moved_topics(tmp_path: Path) -> None:
    export(tmp_path, registry=selftest_registry())

    class MovedWithoutKato(EventPayload):
        iin: str

    registry = Registry()
    event("selftest", "person-moved", topic="elsewhere.v1", registry=registry)(MovedWithoutKato)
    event("selftest", "quota-reserved", topic="selftest-quota.v1", registry=registry)(Reserved)

    assert compare_directory(tmp_path, registry=registry) == [
        "kz.migration.selftest.person-moved.v1: topic changed from selftest.v1 to elsewhere.v1",
        "kz.migration.selftest.person-moved.v1: $.to_kato: property removed",
    ]


def test_compare_directory_accepts_new_types_and_a_missing_directory(tmp_path: Path) -> None:
    assert compare_directory(tmp_path / "absent", registry=selftest_registry()) == []
    assert len(outdated(tmp_path / "absent", registry=selftest_registry())) == 2


def test_command_line_checks_and_exports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Runs against the real (possibly empty) registry: an empty directory stays consistent."""
    directory = tmp_path / "contracts"
    assert main(["export", str(directory)]) == 0
    assert main(["check", str(directory)]) == 0

    removed = directory / "selftest.v1" / "kz.migration.selftest.gone.v1.json"
    removed.parent.mkdir(parents=True)
    removed.write_text(json.dumps({"$id": "kz.migration.selftest.gone.v1"}), encoding="utf-8")

    assert main(["check", str(directory)]) == 1
    assert main(["export", str(directory)]) == 1
    assert "kz.migration.selftest.gone.v1: event type removed" in capsys.readouterr().err
    assert main(["export", "--force", str(directory)]) == 0
