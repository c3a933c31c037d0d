"""A private local Kafka and PostgreSQL beside the default pair (`Instance.of_private`): its
own state and ports, the default's untouched, overlaps refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from koshiqon.common import settings
from koshiqon.devtools.cli import build_parser
from koshiqon.devtools.infra import kafka, postgres
from koshiqon.devtools.infra.cli import chosen
from koshiqon.devtools.infra.instance import Instance
from koshiqon.devtools.paths import state_dir


def test_the_default_instance_is_what_it_was() -> None:
    default = Instance.default()
    assert (default.state, default.kafka_port, default.pg_port) == (
        state_dir(),
        settings.LOCAL_KAFKA_PORT,
        settings.LOCAL_PG_PORT,
    )
    assert kafka.paths().home == state_dir() / "kafka"
    assert kafka.paths().libs == state_dir() / "kafka" / "libs"
    assert default.admin_dsn() == settings.admin_dsn()
    assert postgres.superuser_dsn() == (
        f"postgresql://postgres:koshiqon-dev@127.0.0.1:{settings.LOCAL_PG_PORT}/postgres"
    )


def test_a_private_instance_has_its_own_state_and_ports_and_shares_the_jars(
    tmp_path: Path,
) -> None:
    private = Instance.of_private(tmp_path / "chaos", 29092)
    assert (private.kafka_port, private.controller_port, private.pg_port) == (29092, 29093, 29094)
    assert private.bootstrap == "127.0.0.1:29092"
    assert private.admin_dsn() == "postgresql://postgres:koshiqon-dev@127.0.0.1:29094/koshiqon"
    assert kafka.paths(private).home == tmp_path / "chaos" / "kafka"
    assert kafka.paths(private).libs == kafka.paths().libs
    assert postgres.paths(private).home != postgres.paths().home
    assert private.environment() == {
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:29092",
        "DATABASE_URL": "postgresql://postgres:koshiqon-dev@127.0.0.1:29094/koshiqon",
    }


@pytest.mark.parametrize(
    "base", [settings.LOCAL_KAFKA_PORT - 2, settings.LOCAL_KAFKA_PORT, settings.LOCAL_PG_PORT - 1]
)
def test_ports_overlapping_the_default_instance_are_refused(tmp_path: Path, base: int) -> None:
    with pytest.raises(ValueError, match="overlap"):
        Instance.of_private(tmp_path, base)


def test_the_default_state_dir_is_refused_for_a_private_instance() -> None:
    with pytest.raises(ValueError, match="default instance's state dir"):
        Instance.of_private(state_dir(), 29092)


@pytest.mark.parametrize("action", ["up", "down", "reset", "status"])
def test_the_command_line_names_a_private_instance_or_the_default(
    tmp_path: Path, action: str
) -> None:
    parser = build_parser()
    assert chosen(parser.parse_args(["infra", action])) is None
    args = parser.parse_args(
        ["infra", action, "--state-dir", str(tmp_path), "--base-port", "29092"]
    )
    assert chosen(args) == Instance.of_private(tmp_path, 29092)
    with pytest.raises(SystemExit, match="go together"):
        chosen(parser.parse_args(["infra", action, "--state-dir", str(tmp_path)]))
    overlapping = ["infra", action, "--state-dir", str(tmp_path), "--base-port", "54319"]
    with pytest.raises(SystemExit, match="overlap the default instance"):
        chosen(parser.parse_args(overlapping))
