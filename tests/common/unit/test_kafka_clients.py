"""Every Kafka client the product makes reaches the brokers with the configured security
(`kafka.security_settings()`: TLS, SASL/SCRAM): a client built without it works against the
local plaintext broker and fails only in production, against Strimzi's TLS+SCRAM listener."""

from __future__ import annotations

import ast
from pathlib import Path

from koshiqon.devtools.paths import project_root

CLIENTS = {"AIOKafkaConsumer", "AIOKafkaProducer", "AIOKafkaAdminClient", "AIOKafkaClient"}
# the spreads that carry the security options (producer_settings starts with them)
SECURE = {"security_settings", "producer_settings"}


def client_calls_without_security(source: str) -> list[int]:
    """Line numbers of client constructions that spread neither `security_settings(...)` nor
    `producer_settings(...)`."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name not in CLIENTS:
            continue
        spread = [k.value for k in node.keywords if k.arg is None]
        if not any(
            isinstance(v, ast.Call)
            and (getattr(v.func, "id", None) or getattr(v.func, "attr", None)) in SECURE
            for v in spread
        ):
            lines.append(node.lineno)
    return lines


def test_the_check_finds_a_bare_client() -> None:
    bare = "c = AIOKafkaConsumer(bootstrap_servers=b)\nd = AIOKafkaAdminClient(**x)\n"
    assert client_calls_without_security(bare) == [1, 2]
    good = "c = AIOKafkaConsumer(**security_settings(), bootstrap_servers=b)\n"
    assert client_calls_without_security(good) == []


def test_every_client_in_the_product_takes_the_security_settings() -> None:
    root = project_root()
    sources = [*root.glob("libs/common/src/**/*.py"), *root.glob("services/*/src/**/*.py")]
    bare = {
        str(path.relative_to(root)): lines
        for path in sources
        if (lines := client_calls_without_security(Path(path).read_text()))
    }
    assert bare == {}
