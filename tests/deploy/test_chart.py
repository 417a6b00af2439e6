"""The Helm chart, rendered by Helm's own engine: lint, the objects each configuration gives,
and every object checked against the JSON schemas of real Kubernetes versions."""

from __future__ import annotations

import base64
import copy
import json
import re
from typing import Any

import helm_python
import kubernetes_validate
import pytest
import yaml

from services.shared.redis import EVENTS_GROUP, EVENTS_STREAM
from services.tracking.settings import TrackingSettings

from .manifests import (
    CHART_DIR,
    COMPONENTS,
    CRD_API_VERSIONS,
    FULLNAME,
    KUBE_VERSIONS,
    NAMESPACE,
    VARIANTS,
    by_kind,
    env_map,
    matches,
    notes,
    objects,
    one,
    pod_spec,
    render,
)


def test_chart_lints_clean_in_strict_mode() -> None:
    for kube_version in (None, *(f"v{v}" for v in KUBE_VERSIONS)):
        report = helm_python.lint(CHART_DIR, strict=True, kube_version=kube_version)
        assert report["errors"] == [], report
        assert report["messages"] == [], report  # not even an INFO finding


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_chart_lints_clean_with_each_configuration(variant: str) -> None:
    report = helm_python.lint(CHART_DIR, VARIANTS[variant], strict=True)
    assert report["errors"] == [] and report["messages"] == [], report


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_rendered_object_is_valid_for_kubernetes(variant: str, kube_version: str) -> None:
    objs = objects(VARIANTS[variant])
    assert objs
    for obj in objs:
        label = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] in CRD_API_VERSIONS:
            assert obj["apiVersion"] == CRD_API_VERSIONS[obj["kind"]], label
            with pytest.raises(kubernetes_validate.SchemaNotFoundError):
                kubernetes_validate.validate(obj, kube_version, strict=True)
            continue
        try:
            kubernetes_validate.validate(obj, kube_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{label} is invalid for Kubernetes {kube_version}: {exc.message} at {list(exc.path)}")


def test_the_schema_validator_really_rejects_a_wrong_object() -> None:
    deployment = copy.deepcopy(by_kind(objects(), "Deployment")[f"{FULLNAME}-gateway"])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["prot"] = 8000
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSIONS[0], strict=True)


def test_default_install_is_the_whole_stack() -> None:
    objs = objects()
    assert set(by_kind(objs, "Deployment")) == {f"{FULLNAME}-{c}" for c in COMPONENTS}
    assert set(by_kind(objs, "StatefulSet")) == {f"{FULLNAME}-postgresql", f"{FULLNAME}-redis"}
    assert set(by_kind(objs, "Service")) == {f"{FULLNAME}-{c}" for c in (*COMPONENTS, "postgresql", "redis")}
    assert set(by_kind(objs, "PodDisruptionBudget")) == {f"{FULLNAME}-{c}" for c in COMPONENTS}
    assert set(by_kind(objs, "HorizontalPodAutoscaler")) == {f"{FULLNAME}-subscriber"}
    assert set(by_kind(objs, "Secret")) == {f"{FULLNAME}-postgresql", f"{FULLNAME}-redis", f"{FULLNAME}-internal"}
    assert set(by_kind(objs, "Job")) == {f"{FULLNAME}-migrate"}
    assert set(by_kind(objs, "Pod")) == {f"{FULLNAME}-test-ingest"}
    assert f"{FULLNAME}-dashboards" in by_kind(objs, "ConfigMap")
    assert not by_kind(objs, "Ingress")
    assert not [o for o in objs if o["kind"] in CRD_API_VERSIONS]  # CRDs only when asked for


def test_every_object_carries_the_recommended_labels() -> None:
    for obj in objects(VARIANTS["autoscaling-keda"]) + objects(VARIANTS["monitoring"]):
        labels = obj["metadata"]["labels"]
        for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component",
                    "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "helm.sh/chart"):
            assert key in labels, f"{obj['kind']}/{obj['metadata']['name']} lacks {key}"
        assert labels["app.kubernetes.io/instance"] == "tme"


def test_postgresql_and_redis_are_statefulsets_on_official_images_with_volumes() -> None:
    sts = by_kind(objects(), "StatefulSet")
    pg, redis = sts[f"{FULLNAME}-postgresql"], sts[f"{FULLNAME}-redis"]
    pg_container = pg["spec"]["template"]["spec"]["containers"][0]
    redis_container = redis["spec"]["template"]["spec"]["containers"][0]
    assert re.fullmatch(r"postgres:16(\.\d+)?", pg_container["image"])
    assert re.fullmatch(r"redis:7(\.\d+)*", redis_container["image"])
    for obj, mount in ((pg, "/var/lib/postgresql/data"), (redis, "/data")):
        claims = obj["spec"]["volumeClaimTemplates"]
        assert [c["metadata"]["name"] for c in claims] == ["data"]
        assert claims[0]["spec"]["resources"]["requests"]["storage"]
        container = obj["spec"]["template"]["spec"]["containers"][0]
        assert {"name": "data", "mountPath": mount} in container["volumeMounts"]
        assert obj["spec"]["serviceName"] in by_kind(objects(), "Service")
    script = "\n".join(redis_container["command"] + redis_container["args"])
    start = script.split("exec redis-server", 1)[1]
    assert "--appendonly yes" in start
    assert "--appendfsync always" in start  # an event answered 2xx is on disk (docs/operations.md)
    assert "--maxmemory 600mb --maxmemory-policy noeviction" in start  # bounded; stream entries never evicted
    assert "PASSWORD" not in start and "requirepass" not in start  # the password is not on the command line
    assert "/config/redis.conf" in start
    pg_env = env_map(pg_container)
    assert pg_env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == f"{FULLNAME}-postgresql"
    assert pg_env["PGDATA"]["value"].startswith("/var/lib/postgresql/data/")


def _secret_value(secret: dict[str, Any], key: str) -> str:
    return base64.b64decode(secret["data"][key]).decode()


def test_bundled_postgresql_starts_with_the_tested_collation_and_settings() -> None:
    """A new data volume is initialised with byte-order collation and UTF-8 character classes, as
    the test suite's PostgreSQL is; settings from values become `-c` flags."""
    def pg_container(values: dict[str, Any] | None = None) -> dict[str, Any]:
        sts = by_kind(objects(values), "StatefulSet")[f"{FULLNAME}-postgresql"]
        return sts["spec"]["template"]["spec"]["containers"][0]

    default = pg_container()
    assert env_map(default)["POSTGRES_INITDB_ARGS"]["value"] == "--encoding=UTF8 --lc-collate=C --lc-ctype=C.UTF-8"
    flags = [a for a in default["args"] if a != "-c"]
    assert flags == ["max_connections=200", "max_wal_size=2GB", "shared_buffers=256MB"]

    tuned = pg_container({"postgresql": {"settings": {"work_mem": "16MB", "shared_buffers": "512MB"},
                                         "initdbArgs": ""}})
    assert "POSTGRES_INITDB_ARGS" not in env_map(tuned)
    assert "work_mem=16MB" in tuned["args"] and "shared_buffers=512MB" in tuned["args"]


def test_passwords_are_generated_per_install_and_kept_across_upgrades() -> None:
    first = by_kind(objects(), "Secret")
    second = by_kind(objects({"logLevel": "DEBUG"}), "Secret")  # another render: another install
    for name in (f"{FULLNAME}-postgresql", f"{FULLNAME}-redis"):
        password = _secret_value(first[name], "password")
        assert len(password) >= 32 and password.isalnum()  # URL-safe: it goes into connection URLs
        assert password != _secret_value(second[name], "password"), "a fixed (default) password"
        assert first[name]["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    template = (CHART_DIR / "templates" / "_helpers.tpl").read_text()
    assert 'lookup "v1" "Secret"' in template  # upgrades read the existing password back


def test_values_carry_no_password() -> None:
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if re.search(r"password|secret|url", key, re.I) and isinstance(value, str):
                    assert value in ("", "password") or key.endswith(("Key", "existingSecret")), f"{path}.{key}"
                walk(value, f"{path}.{key}")

    walk(values, "")
    assert values["externalDatabase"]["url"] == "" and values["externalRedis"]["url"] == ""


def test_existing_secrets_replace_the_generated_ones() -> None:
    objs = objects({"postgresql": {"auth": {"existingSecret": "pg-auth", "passwordKey": "pw"}},
                    "redis": {"auth": {"existingSecret": "redis-auth"}},
                    "internalToken": {"existingSecret": "tme-internal", "existingSecretKey": "token"}})
    assert not by_kind(objs, "Secret")
    users = by_kind(objs, "Deployment")[f"{FULLNAME}-users"]
    env = env_map(users["spec"]["template"]["spec"]["containers"][0])
    assert env["TME_INTERNAL_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "tme-internal", "key": "token"}
    assert env["DATABASE_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "pg-auth", "key": "pw"}
    assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "redis-auth", "key": "password"}


def test_external_database_and_redis_by_url() -> None:
    objs = objects(VARIANTS["external-database"])
    assert not by_kind(objs, "StatefulSet")
    assert not {f"{FULLNAME}-postgresql", f"{FULLNAME}-redis"} & set(by_kind(objs, "NetworkPolicy"))
    secret = one(objs, "Secret", f"{FULLNAME}-external")
    assert _secret_value(secret, "database-url") == VARIANTS["external-database"]["externalDatabase"]["url"]
    assert _secret_value(secret, "redis-url") == VARIANTS["external-database"]["externalRedis"]["url"]
    for name in ("users", "tracking", "subscriber"):
        env = env_map(by_kind(objs, "Deployment")[f"{FULLNAME}-{name}"]["spec"]["template"]["spec"]["containers"][0])
        assert env["TME_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": secret["metadata"]["name"],
                                                                        "key": "database-url"}
        assert "DATABASE_PASSWORD" not in env
    job = one(objs, "Job", f"{FULLNAME}-migrate")
    # the URL Secret is part of the release, so the migrations run once it exists
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"


def test_external_database_from_an_existing_secret_migrates_before_install() -> None:
    objs = objects(VARIANTS["external-secrets"])
    # only the generated internal token: the connection URLs come from the operator's Secrets
    assert set(by_kind(objs, "Secret")) == {f"{FULLNAME}-internal"} and not by_kind(objs, "StatefulSet")
    job = one(objs, "Job", f"{FULLNAME}-migrate")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    spec = job["spec"]["template"]["spec"]
    assert "serviceAccountName" not in spec  # the release's ServiceAccount does not exist yet
    env = env_map(spec["containers"][0])
    assert env["TME_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "tme-db", "key": "url"}
    gateway = by_kind(objs, "Deployment")[f"{FULLNAME}-gateway"]
    genv = env_map(gateway["spec"]["template"]["spec"]["containers"][0])
    assert genv["TME_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "tme-redis-url", "key": "url"}
    assert "TME_DATABASE_URL" not in genv  # the gateway never talks to PostgreSQL


@pytest.mark.parametrize(("values", "message"), [
    ({"postgresql": {"enabled": False}}, "externalDatabase.url or externalDatabase.existingSecret"),
    ({"redis": {"enabled": False}}, "externalRedis.url or externalRedis.existingSecret"),
    ({"redis": {"enabled": False}, "externalRedis": {"url": "redis://r:6379/0"},
      "subscriber": {"keda": {"enabled": True}}}, "subscriber.keda.redisAddress"),
])
def test_incomplete_external_settings_are_refused_with_a_clear_message(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmError, match=re.escape(message)):
        render(values)


@pytest.mark.parametrize(("values", "where"), [
    ({"gatewy": {"replicaCount": 3}}, "gatewy"),
    ({"redis": {"appendfsync": "no"}}, "/redis/appendfsync"),
    ({"redis": {"maxmemory": "lots"}}, "/redis/maxmemory"),
    ({"externalDatabase": {"url": "mysql://db/tme"}}, "/externalDatabase/url"),
    ({"postgresql": {"auth": {"username": "tme;drop"}}}, "/postgresql/auth/username"),
    ({"gateway": {"replicaCount": 0}}, "/gateway/replicaCount"),
    ({"subscriber": {"keda": {"lagCount": 1000}}}, "/subscriber/keda/lagCount"),
    ({"gateway": {"forwardedAllowIps": "*"}}, "/gateway/forwardedAllowIps"),  # any client could pick its address
    ({"retention": {"schedule": "daily"}}, "/retention/schedule"),
    ({"retention": {"batchRows": 0}}, "/retention/batchRows"),
])
def test_values_schema_rejects_mistakes(values: dict[str, Any], where: str) -> None:
    with pytest.raises(helm_python.HelmError, match=re.escape(where)):
        render(values)


def test_subscriber_scales_on_cpu_by_default() -> None:
    objs = objects()
    hpa = one(objs, "HorizontalPodAutoscaler", f"{FULLNAME}-subscriber")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": f"{FULLNAME}-subscriber"}
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert "replicas" not in one(objs, "Deployment", f"{FULLNAME}-subscriber")["spec"]  # the HPA owns it
    assert one(objs, "Deployment", f"{FULLNAME}-gateway")["spec"]["replicas"] == 2


def test_keda_scales_the_subscribers_on_the_consumer_group_lag() -> None:
    objs = objects(VARIANTS["autoscaling-keda"])
    scaled = one(objs, "ScaledObject", f"{FULLNAME}-subscriber")
    assert scaled["spec"]["scaleTargetRef"]["name"] == f"{FULLNAME}-subscriber"
    assert f"{FULLNAME}-subscriber" in by_kind(objs, "Deployment")
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "redis-streams"
    meta = trigger["metadata"]
    # the stream and group the gateway writes and the subscribers read
    assert meta["stream"] == EVENTS_STREAM and meta["consumerGroup"] == EVENTS_GROUP
    assert meta["lagCount"] == "500"
    assert meta["address"] == f"{FULLNAME}-redis.{NAMESPACE}.svc:6379"
    assert f"{FULLNAME}-redis" in by_kind(objs, "Service")
    auth = one(objs, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    assert auth["spec"]["secretTargetRef"] == [{"parameter": "password", "name": f"{FULLNAME}-redis",
                                                "key": "password"}]
    # KEDA makes its own HPA: no second one for the subscriber, and no fixed replica count
    assert set(by_kind(objs, "HorizontalPodAutoscaler")) == {f"{FULLNAME}-gateway"}
    assert "replicas" not in one(objs, "Deployment", f"{FULLNAME}-subscriber")["spec"]
    # KEDA's operator may read the lag from Redis
    redis_policy = one(objs, "NetworkPolicy", f"{FULLNAME}-redis")
    peers = redis_policy["spec"]["ingress"][0]["from"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}} in peers


def test_keda_with_an_external_redis() -> None:
    objs = objects({"redis": {"enabled": False}, "externalRedis": {"existingSecret": "r", "existingSecretKey": "url"},
                    "subscriber": {"keda": {"enabled": True, "redisAddress": "redis.example.internal:6379",
                                            "redisPasswordSecret": {"name": "redis-pw", "key": "pw"}}}})
    scaled = one(objs, "ScaledObject", f"{FULLNAME}-subscriber")
    assert scaled["spec"]["triggers"][0]["metadata"]["address"] == "redis.example.internal:6379"
    auth = one(objs, "TriggerAuthentication", f"{FULLNAME}-subscriber-redis")
    assert auth["spec"]["secretTargetRef"][0] == {"parameter": "password", "name": "redis-pw", "key": "pw"}


def test_ingress_publishes_the_gateway_only() -> None:
    objs = objects(VARIANTS["ingress"])
    ingress = one(objs, "Ingress", FULLNAME)
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["tme.example.com"], "secretName": "tme-tls"}]
    backends = [p["backend"]["service"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]]
    assert backends == [{"name": f"{FULLNAME}-gateway", "port": {"name": "http"}}]
    service = one(objs, "Service", f"{FULLNAME}-gateway")
    assert [p["name"] for p in service["spec"]["ports"]] == ["http", "metrics"]  # the Ingress routes http only
    gateway = one(objs, "Deployment", f"{FULLNAME}-gateway")
    env = env_map(gateway["spec"]["template"]["spec"]["containers"][0])
    # client IPs come from the ingress controller, a pod on a private network; never "*" (the
    # client-written left-most hop): the right-most hop that is no private proxy is the client
    assert env["TME_FORWARDED_ALLOW_IPS"]["value"] == "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"
    assert "https://tme.example.com/" in notes(VARIANTS["ingress"])


def test_without_ingress_only_loopback_may_set_forwarded_headers() -> None:
    gateway = one(objects(), "Deployment", f"{FULLNAME}-gateway")
    env = env_map(gateway["spec"]["template"]["spec"]["containers"][0])
    assert env["TME_FORWARDED_ALLOW_IPS"]["value"] == "127.0.0.1"


def test_prometheus_scrapes_the_four_services() -> None:
    objs = objects(VARIANTS["monitoring"])
    monitor = one(objs, "ServiceMonitor", FULLNAME)
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["port"] == "metrics" and endpoint["path"] == "/metrics"  # never the API port
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    selector = monitor["spec"]["selector"]
    selected = {n for n, s in by_kind(objs, "Service").items() if matches(selector, s["metadata"]["labels"])}
    assert selected == {f"{FULLNAME}-{c}" for c in COMPONENTS}
    pod_monitor = one(objs, "PodMonitor", FULLNAME)
    assert pod_monitor["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    for name in COMPONENTS:
        template = one(objs, "Deployment", f"{FULLNAME}-{name}")["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        container = template["spec"]["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["metrics"] != ports["http"]
        assert env_map(container)["TME_METRICS_PORT"]["value"] == str(ports["metrics"])
        assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/port": str(ports["metrics"]),
                               "prometheus.io/path": "/metrics"}


def test_metrics_peers_reach_the_metrics_port_only() -> None:
    peers = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    objs = objects({"networkPolicy": {"metricsFrom": peers, "gatewayFrom": [{"podSelector": {}}]}})
    for name in COMPONENTS:
        policy = one(objs, "NetworkPolicy", f"{FULLNAME}-{name}")
        rules = [rule for rule in policy["spec"]["ingress"] if rule.get("from") == peers]
        assert len(rules) == 1, name
        assert rules[0]["ports"] == [{"port": "metrics", "protocol": "TCP"}], name


def test_grafana_dashboards_ship_as_a_sidecar_configmap() -> None:
    configmap = one(objects(), "ConfigMap", f"{FULLNAME}-dashboards")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    files = sorted(p.name for p in (CHART_DIR / "dashboards").glob("*.json"))
    assert files and sorted(configmap["data"]) == files
    for name, text in configmap["data"].items():
        dashboard = json.loads(text)
        assert dashboard["title"] and dashboard["uid"], name
        exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
        assert exprs and all("tme_" in e for e in exprs), name
    off = objects({"grafana": {"dashboards": {"enabled": False}}})
    assert f"{FULLNAME}-dashboards" not in by_kind(off, "ConfigMap")


def test_migrations_run_as_a_hook_job_before_upgrades() -> None:
    job = one(objects(), "Job", f"{FULLNAME}-migrate")
    annotations = job["metadata"]["annotations"]
    # bundled PostgreSQL: it exists only once the release is installed, so after install;
    # before every upgrade, so that new pods find the new schema
    assert annotations["helm.sh/hook"] == "post-install,pre-upgrade"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    spec = job["spec"]["template"]["spec"]
    assert spec["containers"][0]["command"] == ["python", "-m", "services.cli", "migrate"]
    [wait] = spec["initContainers"]
    assert wait["command"][:2] == ["python", "-c"]
    assert wait["command"][2] == (CHART_DIR / "files" / "wait_for_db.py").read_text()
    assert wait["command"][3:5] == ["--until", "connect"]
    assert job["spec"]["backoffLimit"] >= 1 and job["spec"]["activeDeadlineSeconds"] > 0
    # services do not wait for the schema in this mode (the post-install Job would wait for them)
    for name in COMPONENTS:
        assert "initContainers" not in one(objects(), "Deployment", f"{FULLNAME}-{name}")["spec"]["template"]["spec"]


def test_without_hooks_migrations_are_a_plain_job_and_services_wait_for_the_schema() -> None:
    objs = objects({"migrations": {"hook": False, "initContainer": True}})
    job = one(objs, "Job", f"{FULLNAME}-migrate")
    assert "annotations" not in job["metadata"]
    assert job["spec"]["ttlSecondsAfterFinished"] > 0  # gone after a while: the next apply runs it again
    for name in ("users", "tracking", "subscriber"):
        spec = one(objs, "Deployment", f"{FULLNAME}-{name}")["spec"]["template"]["spec"]
        [wait] = spec["initContainers"]
        assert wait["name"] == "wait-for-schema" and wait["command"][3:5] == ["--until", "schema"]
        assert "TME_DATABASE_URL" in env_map(wait)
    assert "initContainers" not in one(objs, "Deployment", f"{FULLNAME}-gateway")["spec"]["template"]["spec"]


def test_helm_test_sends_an_event_through_the_gateway_and_reads_it_back() -> None:
    pod = one(objects(), "Pod", f"{FULLNAME}-test-ingest")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    container = pod["spec"]["containers"][0]
    script = (CHART_DIR / "files" / "smoke_test.py").read_text()
    assert container["command"] == ["python", "-c", script]
    compile(script, "smoke_test.py", "exec")
    for route in ("/api/auth/register", "/api/track", "/api/projects/{project['id']}/events"):
        assert route.split("{")[0] in script
    service = one(objects(), "Service", f"{FULLNAME}-gateway")
    port = service["spec"]["ports"][0]["port"]
    assert env_map(container)["TME_GATEWAY_URL"]["value"] == f"http://{FULLNAME}-gateway:{port}"
    assert not by_kind(objects({"tests": {"enabled": False}}), "Pod")


def test_notes_tell_how_to_reach_the_dashboard() -> None:
    text = notes()
    assert f"port-forward svc/{FULLNAME}-gateway 8000:8000" in text
    assert "http://localhost:8000/" in text
    assert "helm test tme" in text


def test_image_tags_default_to_the_app_version() -> None:
    app_version = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())["appVersion"]
    for obj in objects():
        spec = pod_spec(obj)
        if spec is None:
            continue
        for container in spec["containers"]:
            image = container["image"]
            if obj["kind"] != "StatefulSet":
                assert image.startswith("ghcr.io/trackmyevents/") and image.endswith(f":{app_version}"), image
    custom = objects({"image": {"registry": "registry.example.com", "repositoryPrefix": "tme/", "tag": "1.2.3"}})
    gateway = one(custom, "Deployment", f"{FULLNAME}-gateway")
    assert gateway["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example.com/tme/gateway:1.2.3"


def test_internal_calls_carry_a_generated_secret_kept_across_upgrades() -> None:
    objs = objects()
    secret = by_kind(objs, "Secret")[f"{FULLNAME}-internal"]
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert len(base64.b64decode(secret["data"]["internal-token"])) == 40
    deployments = by_kind(objs, "Deployment")
    for component in COMPONENTS:
        env = env_map(deployments[f"{FULLNAME}-{component}"]["spec"]["template"]["spec"]["containers"][0])
        if component == "subscriber":
            assert "TME_INTERNAL_TOKEN" not in env  # it serves no API
            continue
        ref = env["TME_INTERNAL_TOKEN"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": f"{FULLNAME}-internal", "key": "internal-token"}


def test_retention_runs_daily_as_a_cronjob_on_the_tracking_image() -> None:
    cron = one(objects(), "CronJob", f"{FULLNAME}-retention")
    assert cron["spec"]["schedule"] == "17 3 * * *"  # daily
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"  # never two runs at once
    job = cron["spec"]["jobTemplate"]["spec"]
    assert job["backoffLimit"] >= 1 and job["activeDeadlineSeconds"] > 0
    spec = job["template"]["spec"]
    [container] = spec["containers"]
    assert container["command"] == ["python", "-m", "services.cli", "retention"]
    assert container["image"] == "ghcr.io/trackmyevents/tracking:0.1.0"
    env = env_map(container)
    assert env["TME_DATABASE_URL"]["value"] == f"postgresql://tme:$(DATABASE_PASSWORD)@{FULLNAME}-postgresql:5432/tme"
    assert env["TME_DELETE_BATCH_ROWS"]["value"] == "5000"
    assert float(env["TME_DELETE_BATCH_PAUSE_SECONDS"]["value"]) == 0.05
    assert "TME_REDIS_URL" not in env
    assert "initContainers" not in spec
    # the tracking service's in-process loop stays off (its default): the CronJob does it
    tracking = one(objects(), "Deployment", f"{FULLNAME}-tracking")["spec"]["template"]["spec"]["containers"][0]
    assert "TME_RETENTION_INTERVAL_SECONDS" not in env_map(tracking)
    assert TrackingSettings.model_fields["retention_interval_seconds"].default == 0


def test_retention_schedule_and_switch_come_from_values() -> None:
    objs = objects({"retention": {"schedule": "@hourly", "timeZone": "Europe/Berlin", "batchRows": 1000},
                    "migrations": {"hook": False, "initContainer": True}})
    cron = one(objs, "CronJob", f"{FULLNAME}-retention")
    assert (cron["spec"]["schedule"], cron["spec"]["timeZone"]) == ("@hourly", "Europe/Berlin")
    spec = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert env_map(spec["containers"][0])["TME_DELETE_BATCH_ROWS"]["value"] == "1000"
    [wait] = spec["initContainers"]  # without hooks, it waits for the schema like the services
    assert wait["name"] == "wait-for-schema"
    assert not by_kind(objects({"retention": {"enabled": False}}), "CronJob")
