"""Policies over the rendered manifests: what every workload, every service, the topics, the
users, the secrets and the alerts must be. Each check is a function returning its findings,
so that a test shows it finds a broken manifest as well as passing the real ones."""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from support.k8s import (
    K8S,
    OVERLAYS,
    ROOT,
    SERVICES,
    Manifest,
    consumer_of,
    containers,
    labels_of,
    name_of,
    of_kind,
    pod_spec,
    rendered,
    walk,
)

import koshiqon.proposals.metrics
import koshiqon.registration.metrics  # noqa: F401
from koshiqon.common import metrics  # noqa: F401  (registers the shared series)
from koshiqon.common.consumer import ConsumerConfig
from koshiqon.common.service import _server
from koshiqon.common.settings import SECRETS_DIR_VARIABLE, KafkaSecurity, ServiceSettings
from koshiqon.common.topics import CONTEXT_TOPICS, dlq_topic
from koshiqon.devtools.infra.kafka import SERVER_PROPERTIES

Findings = list[str]


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def pod_labels(workload: Manifest) -> dict[str, str]:
    return dict(workload["spec"]["template"]["metadata"].get("labels") or {})


# ---- workloads ------------------------------------------------------------------------------

RESTRICTED_CONTAINER = {
    "runAsNonRoot": True,
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
}


def container_findings(container: dict[str, Any], *, served: bool) -> Findings:
    """A container's probes (for a server), resources and restricted securityContext."""
    name, found = container["name"], []
    if served:
        for probe, path in (
            ("startupProbe", "/livez"),
            ("livenessProbe", "/livez"),
            ("readinessProbe", "/readyz"),
        ):
            if (container.get(probe) or {}).get("httpGet", {}).get("path") != path:
                found.append(f"{name}: {probe} is not an HTTP GET of {path}")
        if "sleep" not in ((container.get("lifecycle") or {}).get("preStop") or {}):
            found.append(f"{name}: no preStop pause")
    resources = container.get("resources") or {}
    for need in ("cpu", "memory"):
        if need not in (resources.get("requests") or {}):
            found.append(f"{name}: no {need} request")
    if "memory" not in (resources.get("limits") or {}):
        found.append(f"{name}: no memory limit")
    security = container.get("securityContext") or {}
    for key, value in RESTRICTED_CONTAINER.items():
        if security.get(key) is not value:
            found.append(f"{name}: securityContext.{key} is not {value}")
    if (security.get("capabilities") or {}).get("drop") != ["ALL"]:
        found.append(f"{name}: capabilities do not drop ALL")
    if (security.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        found.append(f"{name}: seccomp is not RuntimeDefault")
    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts") or ()}
    if "/tmp" not in mounts:
        found.append(f"{name}: no volume on /tmp")
    return found


def workload_findings(workload: Manifest) -> Findings:
    """A Deployment's or Job's pod: every container, /tmp an emptyDir, no service-account token,
    a non-root pod with seccomp, KOSHIQON_ENV=prod from its ConfigMap."""
    spec, where = pod_spec(workload), f"{workload['kind']}/{name_of(workload)}"
    served = workload["kind"] == "Deployment"
    found = [
        f"{where}: {f}" for c in containers(workload) for f in container_findings(c, served=served)
    ]
    volumes = {v["name"]: v for v in spec.get("volumes") or ()}
    for container in containers(workload):
        for mount in container.get("volumeMounts") or ():
            if mount["mountPath"] == "/tmp" and "emptyDir" not in volumes.get(mount["name"], {}):
                found.append(f"{where}: /tmp is not an emptyDir")
    if spec.get("automountServiceAccountToken") is not False:
        found.append(f"{where}: the service-account token is mounted")
    pod_security = spec.get("securityContext") or {}
    if pod_security.get("runAsNonRoot") is not True:
        found.append(f"{where}: the pod may run as root")
    if (pod_security.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        found.append(f"{where}: the pod's seccomp is not RuntimeDefault")
    return found


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_is_probed_bounded_and_restricted(overlay: str) -> None:
    manifests = rendered(overlay)
    workloads = of_kind(manifests, "Deployment") + of_kind(manifests, "Job")

    assert len(workloads) == 3 * len(SERVICES)
    assert [f for w in workloads for f in workload_findings(w)] == []


def test_the_workload_check_finds_what_is_missing() -> None:
    deployment = copy.deepcopy(of_kind(rendered("prod"), "Deployment")[0])
    container = pod_spec(deployment)["containers"][0]
    del container["readinessProbe"]
    del container["resources"]["limits"]
    container["securityContext"]["readOnlyRootFilesystem"] = False
    container["lifecycle"] = {}
    pod_spec(deployment)["automountServiceAccountToken"] = True

    found = workload_findings(deployment)

    assert len(found) == 5
    assert any("readinessProbe" in f for f in found)
    assert any("memory limit" in f for f in found)
    assert any("readOnlyRootFilesystem" in f for f in found)
    assert any("preStop" in f for f in found)
    assert any("token" in f for f in found)


def api_drain_seconds() -> float:
    """How long the API's uvicorn drains after SIGTERM."""
    settings = ServiceSettings(environment="test")
    return float(_server(FastAPI(), settings).config.timeout_graceful_shutdown or 0)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_grace_period_outlasts_the_pause_and_the_drain(overlay: str) -> None:
    """SIGTERM comes after the preStop pause; the pod must then have time to drain: the API
    its requests (uvicorn), the worker its consumer's batch and commit (kafka_timeout)."""
    drains = {"api": api_drain_seconds(), "worker": ConsumerConfig(bootstrap="-").kafka_timeout}
    for deployment in of_kind(rendered(overlay), "Deployment"):
        role = pod_labels(deployment)["app.kubernetes.io/component"]
        spec = pod_spec(deployment)
        pause = spec["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert spec["terminationGracePeriodSeconds"] > pause + drains[role], name_of(deployment)


# ---- configuration --------------------------------------------------------------------------


def config_maps(manifests: list[Manifest]) -> dict[str, dict[str, str]]:
    return {name_of(m): dict(m["data"]) for m in of_kind(manifests, "ConfigMap")}


def environment_of(manifests: list[Manifest], workload: Manifest) -> dict[str, str]:
    """The variables a workload's first container gets from its ConfigMaps (secrets left out)."""
    maps, env = config_maps(manifests), {}
    container = pod_spec(workload)["containers"][0]
    for source in container.get("envFrom") or ():
        env.update(maps[source["configMapRef"]["name"]])
    for item in container.get("env") or ():
        if "value" in item:
            env[item["name"]] = item["value"]
    return env


def settings_class(service: str) -> type[ServiceSettings]:
    module = __import__(f"koshiqon.{service}.config", fromlist=["_"])
    (cls,) = (
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, ServiceSettings) and v is not ServiceSettings
    )
    return cls


SHARED_VARIABLES = {
    "KOSHIQON_ENV",
    "DATABASE_URL",
    "KAFKA_BOOTSTRAP_SERVERS",
    SECRETS_DIR_VARIABLE,
} | {f"KAFKA_{name.upper()}" for name in KafkaSecurity.model_fields}
"""The unprefixed variables every service reads (settings.py)."""


def unknown_variables(service: str, env: dict[str, str]) -> Findings:
    """Variables no setting reads (a typo would be ignored silently: extra="ignore")."""
    cls, prefix = settings_class(service), f"{service.upper()}_"
    fields = cls.model_fields
    found = []
    for name in env:
        if name in SHARED_VARIABLES:
            continue
        key = name.removeprefix(prefix).lower()
        head, _, nested = key.partition("__")
        nested_fields = (
            getattr(fields[head].annotation, "model_fields", {}) if head in fields else {}
        )
        if (
            not name.startswith(prefix)
            or head not in fields
            or (nested and nested not in nested_fields)
        ):
            found.append(name)
    return found


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_the_configmap_configures_the_service_for_prod(
    overlay: str, service: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Every variable is one the service reads, and with the secrets' files where the pods
    mount them the service's settings load with KOSHIQON_ENV=prod (which refuses the
    development key and password)."""
    manifests = rendered(overlay)
    worker = next(d for d in of_kind(manifests, "Deployment") if name_of(d) == f"{service}-worker")
    env = environment_of(manifests, worker)
    assert unknown_variables(service, env) == []
    assert env["KOSHIQON_ENV"] == "prod"

    for name in list(os.environ):
        if name.startswith((f"{service.upper()}_", "KAFKA_", "DATABASE_URL", "KOSHIQON_ENV")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    files = secret_files(worker)
    own = {"proposals": {"PROPOSALS_MONITORING_CLIENT_SECRET"}}.get(service, set())
    assert set(files) == {f"{service.upper()}_DB_PASSWORD", "KAFKA_SASL_PASSWORD", *own}
    for name in files:
        (tmp_path / name).write_text("from-the-secret\n")
    monkeypatch.setenv("KOSHIQON_SECRETS_DIR", str(tmp_path))
    settings = settings_class(service)()

    assert settings.environment == "prod"
    assert not settings.auth.uses_dev_key
    assert settings.http_host == "0.0.0.0"
    assert settings.dsn().startswith(
        f"postgresql://{service}:from-the-secret@koshiqon-pg-pooler-rw:5432/"
    )
    ports = {p["name"]: p["containerPort"] for p in pod_spec(worker)["containers"][0]["ports"]}
    assert settings.probe_port == ports["metrics"]
    api = next(d for d in of_kind(manifests, "Deployment") if name_of(d) == f"{service}-api")
    api_ports = {p["name"]: p["containerPort"] for p in pod_spec(api)["containers"][0]["ports"]}
    assert settings.http_port == api_ports["http"]
    assert environment_of(manifests, api) == env
    assert env["KOSHIQON_SECRETS_DIR"] in {
        m["mountPath"] for m in pod_spec(worker)["containers"][0]["volumeMounts"]
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kafka_is_reached_with_tls_and_scram_as_the_services_user(
    overlay: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The pods say SASL_SSL with SCRAM-SHA-512 as their own KafkaUser, trusting the cluster CA
    mounted where KAFKA_SSL_CAFILE points; KafkaSecurity accepts what they say."""
    manifests = rendered(overlay)
    (kafka,) = of_kind(manifests, "Kafka")
    for deployment in of_kind(manifests, "Deployment"):
        env, spec = environment_of(manifests, deployment), pod_spec(deployment)
        service = pod_labels(deployment)["app.kubernetes.io/name"]
        assert (env["KAFKA_SECURITY_PROTOCOL"], env["KAFKA_SASL_MECHANISM"]) == (
            "SASL_SSL",
            "SCRAM-SHA-512",
        )
        assert env["KAFKA_SASL_USERNAME"] == service
        assert secret_files(deployment)["KAFKA_SASL_PASSWORD"] == (service, "password")
        mounts = {m["name"]: m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        (ca,) = (
            n
            for n, v in volumes.items()
            if v.get("secret", {}).get("secretName") == f"{name_of(kafka)}-cluster-ca-cert"
        )
        assert env["KAFKA_SSL_CAFILE"] == f"{mounts[ca]}/ca.crt"
        port = int(env["KAFKA_BOOTSTRAP_SERVERS"].rpartition(":")[2])
        assert port in {listener["port"] for listener in kafka["spec"]["kafka"]["listeners"]}
        assert env["KAFKA_BOOTSTRAP_SERVERS"].startswith(f"{name_of(kafka)}-kafka-bootstrap:")

    ca_file = tmp_path / "ca.crt"
    ca_file.write_text("")
    (tmp_path / "KAFKA_SASL_PASSWORD").write_text("from-the-secret")
    monkeypatch.delenv("KAFKA_SASL_PASSWORD", raising=False)
    for name, value in env.items():
        if name.startswith("KAFKA_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(ca_file))
    monkeypatch.setenv("KOSHIQON_SECRETS_DIR", str(tmp_path))
    security = KafkaSecurity()
    assert security.uses_sasl
    assert security.sasl_password is not None
    assert security.sasl_password.get_secret_value() == "from-the-secret"


def test_a_misspelt_variable_is_found() -> None:
    found = unknown_variables("quota", {"QUOTA_HTTP_PROT": "8000", "QUOTA_AUTH__JWKS_ULR": "x"})

    assert found == ["QUOTA_HTTP_PROT", "QUOTA_AUTH__JWKS_ULR"]


# ---- what each service has around it -------------------------------------------------------


def service_findings(manifests: list[Manifest], service: str) -> Findings:
    """Each Deployment of `service` has a PDB and a NetworkPolicy selecting its pods, the API
    an autoscaling/v2 HPA, and a ServiceMonitor scrapes a named metrics port of each."""
    found: Findings = []
    deployments = [
        d for d in of_kind(manifests, "Deployment") if name_of(d).startswith(f"{service}-")
    ]
    for deployment in deployments:
        labels, where = pod_labels(deployment), name_of(deployment)
        for kind in ("PodDisruptionBudget",):
            if not any(
                matches(p["spec"]["selector"]["matchLabels"], labels)
                for p in of_kind(manifests, kind)
            ):
                found.append(f"{where}: no {kind}")
        policies = of_kind(manifests, "NetworkPolicy")
        own = [
            p
            for p in policies
            if p["spec"]["podSelector"].get("matchLabels")
            and matches(p["spec"]["podSelector"]["matchLabels"], labels)
        ]
        if not own:
            found.append(f"{where}: no NetworkPolicy of its own")
        if not scraped(manifests, deployment):
            found.append(f"{where}: no ServiceMonitor scrapes a named metrics port")
    hpas = [
        h
        for h in of_kind(manifests, "HorizontalPodAutoscaler")
        if h["spec"]["scaleTargetRef"]["name"] == f"{service}-api"
    ]
    if len(hpas) != 1 or hpas[0]["apiVersion"] != "autoscaling/v2":
        found.append(f"{service}-api: no autoscaling/v2 HorizontalPodAutoscaler")
    return found


def scraped(manifests: list[Manifest], deployment: Manifest) -> bool:
    """A ServiceMonitor selects a Service of the deployment's pods whose endpoint port (by
    name) leads to a named container port."""
    labels = pod_labels(deployment)
    ports = {p["name"] for c in containers(deployment) for p in c.get("ports") or ()}
    for monitor in of_kind(manifests, "ServiceMonitor"):
        for service in of_kind(manifests, "Service"):
            if not matches(monitor["spec"]["selector"]["matchLabels"], labels_of(service)):
                continue
            if not matches(service["spec"]["selector"], labels):
                continue
            for endpoint in monitor["spec"]["endpoints"]:
                for port in service["spec"]["ports"]:
                    if port["name"] == endpoint.get("port") and port["targetPort"] in ports:
                        return True
    return False


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_a_pdb_a_networkpolicy_an_hpa_and_a_servicemonitor(
    overlay: str, service: str
) -> None:
    assert service_findings(rendered(overlay), service) == []


def test_the_service_check_finds_a_missing_pdb_and_monitor() -> None:
    manifests = [
        m
        for m in rendered("prod")
        if not (
            m["kind"] in ("PodDisruptionBudget", "ServiceMonitor")
            and name_of(m).startswith("quota")
        )
    ]

    found = service_findings(manifests, "quota")

    assert sorted(found) == [
        "quota-api: no PodDisruptionBudget",
        "quota-api: no ServiceMonitor scrapes a named metrics port",
        "quota-worker: no PodDisruptionBudget",
        "quota-worker: no ServiceMonitor scrapes a named metrics port",
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_api_replicas_are_the_autoscalers_and_the_migration_runs_first(overlay: str) -> None:
    manifests = rendered(overlay)
    wave = "argocd.argoproj.io/sync-wave"
    for deployment in of_kind(manifests, "Deployment"):
        if name_of(deployment).endswith("-api"):
            assert "replicas" not in deployment["spec"], name_of(deployment)
    for job in of_kind(manifests, "Job"):
        service = name_of(job).removesuffix("-migrate")
        annotations = job["metadata"]["annotations"]
        assert annotations["argocd.argoproj.io/hook"] == "Sync"
        assert pod_spec(job)["containers"][0]["args"] == ["migrate"]
        for deployment in of_kind(manifests, "Deployment"):
            if name_of(deployment).startswith(f"{service}-"):
                assert int(annotations[wave]) < int(deployment["metadata"]["annotations"][wave])


# ---- Kafka ----------------------------------------------------------------------------------


def broker_retention_ms() -> int:
    """The retention of the broker `koshiqon infra up` starts (context topics use it)."""
    (hours,) = re.findall(r"^log\.retention\.hours=(\d+)$", SERVER_PROPERTIES, re.M)
    return int(hours) * 3_600_000


def test_the_topics_are_those_of_the_code_with_its_partitions_and_retention() -> None:
    topics = {name_of(t): t["spec"] for t in of_kind(rendered("prod"), "KafkaTopic")}
    groups = [consumer_of(s)[0] for s in SERVICES]
    expected = {t.name: (t.partitions, str(broker_retention_ms())) for t in CONTEXT_TOPICS} | {
        dlq_topic(g).name: (dlq_topic(g).partitions, dlq_topic(g).config["retention.ms"])
        for g in groups
    }

    assert {
        name: (spec["partitions"], str(spec["config"]["retention.ms"]))
        for name, spec in topics.items()
    } == expected


def test_prod_replicates_every_topic_three_times_with_two_in_sync() -> None:
    manifests = rendered("prod")
    for topic in of_kind(manifests, "KafkaTopic"):
        assert topic["spec"]["replicas"] >= 3, name_of(topic)
        assert int(topic["spec"]["config"]["min.insync.replicas"]) == 2, name_of(topic)
    (kafka,) = of_kind(manifests, "Kafka")
    config = kafka["spec"]["kafka"]["config"]
    for key in (
        "default.replication.factor",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "share.coordinator.state.topic.replication.factor",
    ):
        assert int(config[key]) >= 3, key
    for key in (
        "min.insync.replicas",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.min.isr",
    ):
        assert int(config[key]) == 2, key
    assert config["auto.create.topics.enable"] is False
    pools = {name_of(p): p["spec"] for p in of_kind(manifests, "KafkaNodePool")}
    assert {
        name: (p["roles"], p["replicas"], p["storage"]["type"]) for name, p in pools.items()
    } == {
        "controllers": (["controller"], 3, "persistent-claim"),
        "brokers": (["broker"], 3, "persistent-claim"),
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kafka_has_no_plaintext_listener_and_authorizes(overlay: str) -> None:
    (kafka,) = of_kind(rendered(overlay), "Kafka")
    listeners = kafka["spec"]["kafka"]["listeners"]

    assert listeners
    for listener in listeners:
        assert listener["tls"] is True, listener["name"]
        assert listener["authentication"]["type"] in ("tls", "scram-sha-512"), listener["name"]
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"


def acl_findings(manifests: list[Manifest]) -> Findings:
    """Every ACL names a declared topic or group; each service's user writes exactly its own
    topic and its DLQ, reads exactly what its consumer consumes, in its own group; the external
    subscriber only reads registration.v1 and quota.v1 in groups named external.*."""
    topics = {name_of(t) for t in of_kind(manifests, "KafkaTopic")}
    groups = {consumer_of(s)[0] for s in SERVICES}
    found: Findings = []
    for user in of_kind(manifests, "KafkaUser"):
        name, rights = name_of(user), set()
        for acl in user["spec"]["authorization"]["acls"]:
            resource = acl["resource"]
            literal = resource.get("patternType", "literal") == "literal"
            if resource["type"] == "topic" and not (literal and resource["name"] in topics):
                found.append(f"{name}: topic {resource['name']} is not a declared KafkaTopic")
            if resource["type"] == "group" and not (
                (literal and resource["name"] in groups)
                or (name == "external-subscriber" and resource["name"] == "external.")
            ):
                found.append(f"{name}: group {resource['name']} is not a declared group")
            if resource["type"] not in ("topic", "group"):
                found.append(f"{name}: {resource['type']} ACL")
            rights |= {(op, resource["type"], resource["name"]) for op in acl["operations"]}
        found += [f"{name}: {f}" for f in rights_findings(name, rights)]
    return found


def rights_findings(user: str, rights: set[tuple[str, str, str]]) -> Findings:
    def named(op: str, kind: str) -> set[str]:
        return {n for o, k, n in rights if o == op and k == kind}

    if user == "external-subscriber":
        expected = {
            "Write": set[str](),
            "Read-topic": {"registration.v1", "quota.v1"},
            "Read-group": {"external."},
        }
    elif user in SERVICES:
        group, consumed = consumer_of(user)
        own = f"{user}.v1"
        expected = {
            "Write": {own, dlq_topic(group).name},
            "Read-topic": set(consumed),
            "Read-group": {group},
        }
    else:
        return [f"a user of no service: {user}"]
    actual = {
        "Write": named("Write", "topic"),
        "Read-topic": named("Read", "topic"),
        "Read-group": named("Read", "group"),
    }
    found = [
        f"{what} {sorted(actual[what])}, expected {sorted(names)}"
        for what, names in expected.items()
        if actual[what] != names
    ]
    too_much = {op for op, _, _ in rights} - {"Read", "Write", "Describe"}
    return found + ([f"operations {sorted(too_much)}"] if too_much else [])


def test_kafka_users_have_least_privilege_over_declared_topics_and_groups() -> None:
    manifests = rendered("prod")

    assert {name_of(u) for u in of_kind(manifests, "KafkaUser")} == {
        *SERVICES,
        "external-subscriber",
    }
    assert acl_findings(manifests) == []


def test_the_acl_check_finds_an_undeclared_topic_and_a_broader_right() -> None:
    manifests = copy.deepcopy(rendered("prod"))
    quota = next(u for u in of_kind(manifests, "KafkaUser") if name_of(u) == "quota")
    quota["spec"]["authorization"]["acls"] += [
        {"resource": {"type": "topic", "name": "registration.v2"}, "operations": ["Read"]},
        {
            "resource": {"type": "topic", "name": "registration.v1"},
            "operations": ["Write", "Alter"],
        },
    ]

    found = acl_findings(manifests)

    assert "quota: topic registration.v2 is not a declared KafkaTopic" in found
    assert any(f.startswith("quota: Write") and "registration.v1" in f for f in found)
    assert "quota: operations ['Alter']" in found


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_worker_replicas_are_at_most_the_partitions_of_their_topics(overlay: str) -> None:
    manifests = rendered(overlay)
    partitions = {name_of(t): t["spec"]["partitions"] for t in of_kind(manifests, "KafkaTopic")}
    for service in SERVICES:
        (worker,) = (
            d for d in of_kind(manifests, "Deployment") if name_of(d) == f"{service}-worker"
        )
        _, consumed = consumer_of(service)
        assert 1 <= worker["spec"]["replicas"] <= min(partitions[t] for t in consumed), service
    assert not [
        h
        for h in of_kind(manifests, "HorizontalPodAutoscaler")
        if "worker" in h["spec"]["scaleTargetRef"]["name"]
    ]


# ---- secrets --------------------------------------------------------------------------------


def secret_references(manifests: Iterable[Manifest]) -> set[tuple[str, str | None]]:
    """(Secret, key) pairs the workloads read: by secretKeyRef, or as a secret volume's or a
    projected volume's items (key None: the whole Secret)."""
    refs: set[tuple[str, str | None]] = set()
    for workload in [m for m in manifests if m["kind"] in ("Deployment", "Job")]:
        for key, value in walk(pod_spec(workload)):
            if key == "secretKeyRef":
                refs.add((value["name"], value["key"]))
            elif key == "secret" and isinstance(value, dict):
                name = value.get("secretName") or value["name"]
                items = [item["key"] for item in value.get("items") or ()]
                refs |= {(name, item) for item in items} or {(name, None)}
    return refs


def secret_files(workload: Manifest) -> dict[str, tuple[str, str]]:
    """The files of the projected volume mounted at KOSHIQON_SECRETS_DIR: file -> (Secret, key)."""
    spec = pod_spec(workload)
    mounts = {m["mountPath"]: m["name"] for m in spec["containers"][0]["volumeMounts"]}
    (volume,) = (v for v in spec["volumes"] if v["name"] == mounts["/run/secrets/koshiqon"])
    return {
        item["path"]: (source["secret"]["name"], item["key"])
        for source in volume["projected"]["sources"]
        for item in source["secret"]["items"]
    }


def created_secrets(manifests: list[Manifest]) -> dict[str, set[str]]:
    """The Secrets that exist once the platform is up, with their keys: those of the manifests,
    those the operators write (Strimzi: one per KafkaUser, `password`; the cluster CA
    `<kafka>-cluster-ca-cert`, `ca.crt`), and the managed roles' password Secrets the
    CloudNativePG Cluster names (created before the apply, deploy/README.md)."""
    secrets = {
        name_of(s): set(s.get("data") or {}) | set(s.get("stringData") or {})
        for s in of_kind(manifests, "Secret")
    }
    for user in of_kind(manifests, "KafkaUser"):
        secrets[name_of(user)] = {"password", "sasl.jaas.config"}
    for kafka in of_kind(manifests, "Kafka"):
        secrets[f"{name_of(kafka)}-cluster-ca-cert"] = {"ca.crt", "ca.p12", "ca.password"}
    for cluster in of_kind(manifests, "Cluster"):
        for role in cluster["spec"]["managed"]["roles"]:
            secrets[role["passwordSecret"]["name"]] = {"username", "password"}
    for name, keys in deployer_secrets().items():
        secrets[name] = secrets.get(name, set()) | keys
    return secrets


def deployer_secrets() -> dict[str, set[str]]:
    """The Secrets deploy/README.md tells the deployer to create ("Before the first apply"),
    with the keys its table names: a pod may read only what the guide says to create."""
    guide = (ROOT / "deploy" / "README.md").read_text()
    section = guide.split("## Before the first apply", 1)[1].split("\n## ", 1)[0]
    found: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = line.split("|")
        if len(cells) > 3 and cells[1].strip().startswith("`"):
            name = cells[1].strip().strip("`")
            found[name] = set(re.findall(r"`([^`]+)`", cells[2]))
    return found


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_secret_read_is_created_by_the_manifests_or_an_operator(overlay: str) -> None:
    manifests = rendered(overlay)
    secrets = created_secrets(manifests)
    refs = secret_references(manifests)

    # a role password and a Kafka password each, the CA, proposals' client secret for monitoring
    assert len(refs) == 2 * len(SERVICES) + 2
    missing = [
        (name, key)
        for name, key in refs
        if name not in secrets or (key is not None and key not in secrets[name])
    ]
    assert missing == []


def test_the_secrets_created_before_the_apply_are_documented() -> None:
    """The role passwords and the object store's keys are the deployer's to create: the
    README says how, by name."""
    manifests = rendered("prod")
    readme = (K8S.parent / "README.md").read_text()
    before = [
        r["passwordSecret"]["name"]
        for c in of_kind(manifests, "Cluster")
        for r in c["spec"]["managed"]["roles"]
    ]
    for store in of_kind(manifests, "ObjectStore"):
        before += [
            v["name"]
            for k, v in walk(store["spec"]["configuration"]["s3Credentials"])
            if isinstance(v, dict) and "name" in v
        ]

    assert len(before) == len(SERVICES) + 2
    assert [name for name in before if f"`{name}`" not in readme] == []


def test_the_secret_check_finds_an_unknown_secret() -> None:
    manifests = copy.deepcopy(rendered("prod"))
    api = of_kind(manifests, "Deployment")[0]
    pod_spec(api)["containers"][0].setdefault("env", []).append(
        {"name": "X", "valueFrom": {"secretKeyRef": {"name": "nobody-makes-me", "key": "k"}}}
    )

    refs = secret_references(manifests)
    assert ("nobody-makes-me", "k") in refs
    assert "nobody-makes-me" not in created_secrets(manifests)


# ---- PostgreSQL -----------------------------------------------------------------------------


def test_postgres_is_a_cluster_of_three_on_18_with_a_schema_and_role_per_service() -> None:
    manifests = rendered("prod")
    (cluster,) = of_kind(manifests, "Cluster")
    (database,) = of_kind(manifests, "Database")
    (pooler,) = of_kind(manifests, "Pooler")

    assert cluster["spec"]["instances"] == 3
    assert re.search(r":18(\.\d+)?(-[a-z0-9-]+)?$", cluster["spec"]["imageName"])
    roles = {r["name"]: r for r in cluster["spec"]["managed"]["roles"]}
    assert set(roles) == set(SERVICES)
    assert all(
        r["login"] and not r.get("superuser") and r["passwordSecret"] for r in roles.values()
    )
    assert database["spec"]["cluster"]["name"] == name_of(cluster)
    assert {s["name"]: s["owner"] for s in database["spec"]["schemas"]} == {s: s for s in SERVICES}
    assert (pooler["spec"]["cluster"]["name"], pooler["spec"]["type"]) == (name_of(cluster), "rw")
    # session pooling: the relay's lease is a session-level advisory lock
    assert pooler["spec"]["pgbouncer"]["poolMode"] == "session"
    # PgBouncer refuses the search_path the services send at connect unless it ignores it;
    # the server's default "$user" then finds the schema named after the role (above)
    ignored = pooler["spec"]["pgbouncer"]["parameters"]["ignore_startup_parameters"]
    assert "search_path" in ignored.split(",")


def test_backups_go_to_the_object_store_daily() -> None:
    manifests = rendered("prod")
    (cluster,) = of_kind(manifests, "Cluster")
    (store,) = of_kind(manifests, "ObjectStore")
    (backup,) = of_kind(manifests, "ScheduledBackup")

    (plugin,) = cluster["spec"]["plugins"]
    assert plugin["isWALArchiver"] is True
    assert plugin["parameters"]["barmanObjectName"] == name_of(store)
    assert backup["spec"]["cluster"]["name"] == name_of(cluster)
    assert (backup["spec"]["method"], backup["spec"]["pluginConfiguration"]["name"]) == (
        "plugin",
        plugin["name"],
    )
    seconds, minutes, hours, *every_day = backup["spec"]["schedule"].split()
    assert every_day == ["*", "*", "*"]
    assert all(field.isdigit() for field in (seconds, minutes, hours))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_services_reach_postgres_through_the_pooler(overlay: str) -> None:
    manifests = rendered(overlay)
    (pooler,) = of_kind(manifests, "Pooler")
    for workload in of_kind(manifests, "Deployment") + of_kind(manifests, "Job"):
        assert environment_of(manifests, workload)["DATABASE_URL"].startswith(
            f"postgresql://{name_of(pooler)}:5432/"
        )


# ---- network policies -----------------------------------------------------------------------


def allowed(
    policies: list[Manifest], labels: dict[str, str], direction: str
) -> list[dict[str, Any]]:
    """The ingress or egress rules of every policy selecting pods with `labels`."""
    rules: list[dict[str, Any]] = []
    for policy in policies:
        selector = policy["spec"]["podSelector"].get("matchLabels") or {}
        if matches(selector, labels) and direction.capitalize() in policy["spec"]["policyTypes"]:
            rules += policy["spec"].get(direction) or []
    return rules


def reaches(rules: list[dict[str, Any]], labels: dict[str, str], port: int) -> bool:
    """Whether one of `rules` admits pods with `labels` (a peer of this namespace) on `port`."""
    for rule in rules:
        ports = {p["port"] for p in rule.get("ports") or ()}
        if ports and port not in ports:
            continue
        for peer in rule.get("to") or rule.get("from") or ():
            selector = (peer.get("podSelector") or {}).get("matchLabels")
            if "namespaceSelector" not in peer and selector and matches(selector, labels):
                return True
    return False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_namespace_denies_by_default_and_allows_what_the_services_need(overlay: str) -> None:
    manifests = rendered(overlay)
    policies = of_kind(manifests, "NetworkPolicy")
    everything = [p for p in policies if p["spec"]["podSelector"] == {}]
    deny = [
        p
        for p in everything
        if set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert deny, "no default-deny policy"
    dns = [r for p in everything for r in p["spec"].get("egress") or ()]
    assert {(p["port"], p["protocol"]) for r in dns for p in r["ports"]} == {
        (53, "UDP"),
        (53, "TCP"),
    }

    pooler = {"cnpg.io/poolerName": name_of(of_kind(manifests, "Pooler")[0])}
    broker = {
        "strimzi.io/cluster": "koshiqon",
        "strimzi.io/broker-role": "true",
        "strimzi.io/kind": "Kafka",
    }
    for workload in of_kind(manifests, "Deployment") + of_kind(manifests, "Job"):
        labels, where = pod_labels(workload), name_of(workload)
        assert reaches(allowed(policies, labels, "egress"), pooler, 5432), where
        assert reaches(allowed(policies, pooler, "ingress"), labels, 5432), where
        if workload["kind"] == "Deployment":
            assert reaches(allowed(policies, labels, "egress"), broker, 9093), where
            assert reaches(allowed(policies, broker, "ingress"), labels, 9093), where


# ---- alerts ---------------------------------------------------------------------------------

ALERTS = {
    "KoshiqonOutboxLag",
    "KoshiqonOutboxNoActiveRelay",
    "KoshiqonOutboxParkedRows",
    "KoshiqonConsumerLag",
    "KoshiqonDeadLetters",
    "KoshiqonHttp5xxRate",
}
RULE_KEYS = {"alert", "expr", "for", "labels", "annotations"}


def exposed_series() -> set[str]:
    """Every series name the services' /metrics can show (counters and histograms included)."""
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in ("", "_total", "_count", "_sum", "_bucket", "_created")
    }


def rule_findings(rule_file: Manifest, series: set[str]) -> Findings:
    found = []
    for group in rule_file["spec"]["groups"]:
        if unknown := set(group) - {"name", "rules", "interval"}:
            found.append(f"{group['name']}: unknown keys {sorted(unknown)}")
        for rule in group["rules"]:
            if set(rule) - RULE_KEYS or not {"alert", "expr"} <= set(rule):
                found.append(f"{rule.get('alert')}: keys {sorted(rule)}")
            for name in re.findall(r"\b(koshiqon_[a-z_]+)", rule["expr"]):
                if name not in series:
                    found.append(f"{rule['alert']}: no series {name}")
            if "summary" not in (rule.get("annotations") or {}):
                found.append(f"{rule['alert']}: no summary")
    return found


def test_prometheus_rules_are_well_formed() -> None:
    """Each service's PrometheusRule has the alerts an operator needs, each expression names
    only series the code exposes (proposals: stuck proposals too)."""
    series = exposed_series()
    rules = {name_of(r): r for r in of_kind(rendered("prod"), "PrometheusRule")}
    assert set(rules) == set(SERVICES)
    for service, rule_file in rules.items():
        alerts = {r["alert"] for g in rule_file["spec"]["groups"] for r in g["rules"]}
        assert ALERTS | ({"KoshiqonStuckProposals"} if service == "proposals" else set()) == alerts
        assert rule_findings(rule_file, series) == []


def test_the_rule_check_finds_an_unknown_series() -> None:
    rule_file = copy.deepcopy(of_kind(rendered("prod"), "PrometheusRule")[0])
    rule_file["spec"]["groups"][0]["rules"][0]["expr"] = "koshiqon_outbox_lag_seconds > 1"
    rule_file["spec"]["groups"][0]["rules"][1]["expresion"] = "1"

    found = rule_findings(rule_file, exposed_series())

    assert len(found) == 2
    assert "no series koshiqon_outbox_lag_seconds" in found[0]


def test_the_network_check_finds_a_missing_allow() -> None:
    policies = [
        p for p in of_kind(rendered("prod"), "NetworkPolicy") if name_of(p) != "postgres-pooler"
    ]
    pooler = {"cnpg.io/poolerName": "koshiqon-pg-pooler-rw"}
    api = {
        "app.kubernetes.io/name": "quota",
        "app.kubernetes.io/component": "api",
        "app.kubernetes.io/part-of": "koshiqon",
    }

    assert reaches(allowed(policies, api, "egress"), pooler, 5432)
    assert not reaches(allowed(policies, api, "egress"), pooler, 5433)
    assert not reaches(allowed(policies, pooler, "ingress"), api, 5432)
