"""Apache Kafka 4 in KRaft mode, one combined broker and controller, on 127.0.0.1.

Every function acts on the default instance unless given another (`instance.Instance`)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from koshiqon.common.settings import LOCAL_KAFKA_PORT
from koshiqon.devtools.infra.instance import Instance
from koshiqon.devtools.infra.process import kill, live_pid, terminate
from koshiqon.devtools.paths import project_root

BROKER_PORT = LOCAL_KAFKA_PORT
CONTROLLER_PORT = LOCAL_KAFKA_PORT + 1
MARKER = "kafka.Kafka"

SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller}
listeners=PLAINTEXT://127.0.0.1:{broker},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{broker}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs={data}
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=168
"""

LOG4J2 = """\
Configuration:
  status: warn
  Appenders:
    RollingFile:
      name: file
      fileName: "{logs}/server.log"
      filePattern: "{logs}/server.log.%i"
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
      SizeBasedTriggeringPolicy:
        size: 20MB
      DefaultRolloverStrategy:
        max: 3
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        ref: file
"""


@dataclass(frozen=True)
class KafkaPaths:
    home: Path
    shared_libs: Path | None = None  # another instance's jars

    @property
    def libs(self) -> Path:
        return self.shared_libs or self.home / "libs"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def config(self) -> Path:
        return self.home / "server.properties"

    @property
    def pid_file(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def libs_stamp(self) -> Path:
        return self.libs / ".pom-sha256"


def paths(instance: Instance | None = None) -> KafkaPaths:
    i = instance or Instance.default()
    return KafkaPaths(i.state / "kafka", shared_libs=i.kafka_libs)


def pom() -> Path:
    return project_root() / "deploy" / "local" / "kafka" / "pom.xml"


def ensure_jars(p: KafkaPaths) -> None:
    """Resolve the broker's jars from Maven Central once per version of the pom."""
    digest = hashlib.sha256(pom().read_bytes()).hexdigest()
    if p.libs_stamp.is_file() and p.libs_stamp.read_text() == digest:
        return
    shutil.rmtree(p.libs, ignore_errors=True)
    subprocess.run(
        [
            "mvn", "-q", "-B", "-f", str(pom()), "dependency:copy-dependencies",
            f"-DoutputDirectory={p.libs}", "-DincludeScope=runtime",
        ],
        check=True,
    )  # fmt: skip
    p.libs_stamp.write_text(digest)


def _java(p: KafkaPaths, *args: str) -> list[str]:
    classpath = ":".join(str(jar) for jar in sorted(p.libs.glob("*.jar")))
    java = os.environ.get("JAVA_HOME")
    exe = str(Path(java) / "bin" / "java") if java else "java"
    return [exe, "-cp", classpath, *args]


def _write_config(p: KafkaPaths, i: Instance) -> None:
    p.logs.mkdir(parents=True, exist_ok=True)
    p.config.write_text(
        SERVER_PROPERTIES.format(broker=i.kafka_port, controller=i.controller_port, data=p.data)
    )
    (p.home / "log4j2.yaml").write_text(LOG4J2.format(logs=p.logs))


FORMAT_ATTEMPTS = 3


def _format_storage(p: KafkaPaths) -> None:
    """Format the log directory for KRaft, once. `--ignore-formatted`: an attempt that wrote
    its metadata before it failed does not make the next one fail."""
    if (p.data / "meta.properties").is_file():
        return
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    tool = ("kafka.tools.StorageTool", "format", "--ignore-formatted", "-t", cluster_id)
    run_tool(
        _java(p, *tool, "-c", str(p.config)), name="kafka-storage format", attempts=FORMAT_ATTEMPTS
    )


def run_tool(command: list[str], *, name: str, attempts: int, pause: float = 1.0) -> None:
    """Run a command until it succeeds, `attempts` times at most (a JVM now and then fails
    to start); the last failure raises with the command's own output, which says why."""
    for attempt in range(1, attempts + 1):
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode == 0:
            return
        said = (result.stdout + result.stderr).strip()[-2000:]
        if attempt == attempts:
            raise RuntimeError(f"{name} failed {attempts} times; exit {result.returncode}: {said}")
        print(f"{name}: retrying after exit {result.returncode}: {said}", file=sys.stderr)
        time.sleep(pause)


def running(instance: Instance | None = None) -> int | None:
    return live_pid(paths(instance).pid_file, marker=MARKER)


def start(instance: Instance | None = None) -> int:
    """Start the broker unless it already runs; returns its pid."""
    i = instance or Instance.default()
    p = paths(i)
    if (pid := running(i)) is not None:
        return pid
    p.home.mkdir(parents=True, exist_ok=True)
    ensure_jars(p)
    _write_config(p, i)
    _format_storage(p)
    heap = os.environ.get("KOSHIQON_KAFKA_HEAP", "-Xmx512m")
    command = _java(
        p,
        heap,
        "-XX:+UseG1GC",
        f"-Dlog4j2.configurationFile={p.home / 'log4j2.yaml'}",
        f"-Dkafka.logs.dir={p.logs}",
        MARKER,
        str(p.config),
    )
    with (p.logs / "stdout.log").open("ab") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    p.pid_file.write_text(str(proc.pid))
    return proc.pid


async def _answers(bootstrap: str) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # refused connects while it boots

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await admin.start()
        await admin.describe_cluster()
        return True
    except Exception:
        return False
    finally:
        await admin.close()


def wait_ready(instance: Instance | None = None, *, timeout: float = 90.0) -> None:
    """Block until the broker answers a metadata request."""
    i = instance or Instance.default()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running(i) is None:
            raise RuntimeError(f"Kafka exited; see {paths(i).logs / 'server.log'}")
        if asyncio.run(_answers(i.bootstrap)):
            return
        time.sleep(0.5)
    raise TimeoutError(f"Kafka did not answer within {timeout:.0f}s")


def stop(instance: Instance | None = None, *, hard: bool = False) -> bool:
    """Stop the broker (SIGKILL when `hard`); False when it was not running."""
    pid = running(instance)
    if pid is None:
        return False
    if hard:
        kill(pid)
    else:
        terminate(pid, timeout=30)
    paths(instance).pid_file.unlink(missing_ok=True)
    return True


def wipe(instance: Instance | None = None) -> None:
    shutil.rmtree(paths(instance).data, ignore_errors=True)
    shutil.rmtree(paths(instance).logs, ignore_errors=True)
