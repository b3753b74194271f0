"""The deployment files under deploy/: Kubernetes schemas (offline), the references between the
manifests, the compose file and the Dockerfile, and that every variable they set is one facegate
reads (a misspelt name would be silently ignored: the settings use ``extra="ignore"``)."""

from __future__ import annotations

import re
import shlex
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from pydantic import AliasChoices

from facegate.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

# Not Kubernetes resources: kustomize's own file.
NOT_RESOURCES = {"kustomization.yaml"}
# Placeholder values; `kubectl apply -k` must never ship it over the real Secret.
SECRET_EXAMPLE = "secret.example.yaml"
# The oldest Kubernetes the manifests aim at, and the newest schema kubernetes-validate ships.
K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
# FACEGATE_DRAIN_SECONDS when the ConfigMap leaves it out.
DEFAULT_DRAIN_SECONDS = 30

Doc = dict[str, Any]


def _load_manifests() -> list[tuple[str, Doc]]:
    found: list[tuple[str, Doc]] = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name in NOT_RESOURCES:
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is None or doc.get("kind") == "Kustomization":
                continue
            found.append((f"{path.name}:{doc.get('kind')}/{doc['metadata']['name']}", doc))
    return found


MANIFESTS = _load_manifests()
MANIFEST_IDS = [where for where, _ in MANIFESTS]


def of_kind(kind: str) -> list[Doc]:
    return [doc for _, doc in MANIFESTS if doc["kind"] == kind]


def named(kind: str, name: str) -> Doc:
    matches = [doc for doc in of_kind(kind) if doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} named {name}, found {len(matches)}"
    return matches[0]


def config_map() -> dict[str, str]:
    data: dict[str, str] = named("ConfigMap", "facegate-config")["data"]
    return data


def secret_keys(secret: Doc) -> dict[str, str]:
    return {**secret.get("data", {}), **secret.get("stringData", {})}


def containers(deployment: Doc) -> list[Doc]:
    found: list[Doc] = deployment["spec"]["template"]["spec"]["containers"]
    return found


def container_ports(container: Doc) -> set[int | str]:
    ports: set[int | str] = set()
    for port in container.get("ports", []):
        ports.add(port["containerPort"])
        if "name" in port:
            ports.add(port["name"])
    return ports


def selects(selector: dict[str, str], deployment: Doc) -> bool:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return bool(selector) and selector.items() <= labels.items()


def cpu_cores(quantity: str | int | float) -> float:
    text = str(quantity)
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


def setting_env_names() -> set[str]:
    """The variable names pydantic-settings maps onto ``Settings`` (upper-cased; it ignores case).

    A field with an alias is read under its alias choices only; the others under the prefix.
    """
    prefix = Settings.model_config.get("env_prefix", "")
    names: set[str] = set()
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias if field.validation_alias is not None else field.alias
        if isinstance(alias, AliasChoices):
            names.update(choice for choice in alias.choices if isinstance(choice, str))
        elif isinstance(alias, str):
            names.add(alias)
        else:
            names.add(prefix + field_name)
    return {name.upper() for name in names}


# --- Kubernetes: schema -----------------------------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize(("where", "doc"), MANIFESTS, ids=MANIFEST_IDS)
def test_manifest_matches_the_kubernetes_schema(where: str, doc: Doc, version: str) -> None:
    try:
        kubernetes_validate.validate(doc, desired_version=version, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = "/".join(str(part) for part in error.absolute_path)
        pytest.fail(f"{where} (Kubernetes {version}): {error.message} at {path or '/'}")


def test_every_expected_resource_is_there() -> None:
    expected = Counter(
        {
            "Deployment": 2,
            "Service": 2,
            "HorizontalPodAutoscaler": 1,
            "ConfigMap": 1,
            "Secret": 1,
        }
    )
    missing = expected - Counter(doc["kind"] for _, doc in MANIFESTS)
    assert not missing, f"missing from deploy/k8s: {dict(missing)}"
    for kind, name in [
        ("Deployment", "facegate-api"),
        ("Deployment", "facegate-worker"),
        ("Service", "facegate-api"),
        ("Service", "facegate-worker-headless"),
        ("ConfigMap", "facegate-config"),
        ("Secret", "facegate-decrypt"),
    ]:
        named(kind, name)


@pytest.mark.parametrize(("where", "doc"), MANIFESTS, ids=MANIFEST_IDS)
def test_manifest_is_namespace_agnostic_and_labelled(where: str, doc: Doc) -> None:
    metadata = doc["metadata"]
    assert "namespace" not in metadata, f"{where}: the namespace comes from kubectl, not the file"
    assert metadata.get("labels", {}).get("app.kubernetes.io/name") == "facegate", where


def test_kustomization_lists_every_manifest_but_the_secret_example() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {path.name for path in K8S.glob("*.yaml")} - NOT_RESOURCES
    assert SECRET_EXAMPLE not in listed, "apply -k would overwrite the real Secret's key"
    assert listed == on_disk - {SECRET_EXAMPLE}


# --- Kubernetes: the pods ---------------------------------------------------------------------

DEPLOYMENTS = [(doc["metadata"]["name"], doc) for doc in of_kind("Deployment")]
CONTAINERS = [
    (f"{name}/{container['name']}", deployment, container)
    for name, deployment in DEPLOYMENTS
    for container in containers(deployment)
]
CONTAINER_IDS = [where for where, _, _ in CONTAINERS]


@pytest.mark.parametrize(("where", "deployment", "container"), CONTAINERS, ids=CONTAINER_IDS)
def test_probes_reach_a_container_port(where: str, deployment: Doc, container: Doc) -> None:
    ports = container_ports(container)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert probe in container, f"{where}: no {probe}"
        http = container[probe]["httpGet"]
        assert http["port"] in ports, f"{where}: {probe} port {http['port']} is not exposed"
    # A restart cannot fix missing workers or an unfinished warm-up; only a dead process.
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez", where
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true", where
    assert annotations["prometheus.io/path"] == "/metrics", where
    assert int(annotations["prometheus.io/port"]) in ports, f"{where}: scrape port not exposed"


@pytest.mark.parametrize(("where", "deployment", "container"), CONTAINERS, ids=CONTAINER_IDS)
def test_env_comes_from_the_config_map_and_secret(
    where: str, deployment: Doc, container: Doc
) -> None:
    refs = container.get("envFrom", [])
    config_maps = {ref["configMapRef"]["name"] for ref in refs if "configMapRef" in ref}
    secrets = {ref["secretRef"]["name"] for ref in refs if "secretRef" in ref}
    assert config_maps == {"facegate-config"}, where
    assert secrets == {"facegate-decrypt"}, where
    for name in config_maps:
        named("ConfigMap", name)
    for name in secrets:
        named("Secret", name)
    # Service links would add FACEGATE_<SERVICE>_PORT=tcp://... into the settings' namespace.
    assert deployment["spec"]["template"]["spec"].get("enableServiceLinks") is False, where


@pytest.mark.parametrize(("where", "deployment", "container"), CONTAINERS, ids=CONTAINER_IDS)
def test_graceful_shutdown_fits_in_the_grace_period(
    where: str, deployment: Doc, container: Doc
) -> None:
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep", where
    drain = int(config_map().get("FACEGATE_DRAIN_SECONDS", DEFAULT_DRAIN_SECONDS))
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > int(command[1]) + drain, f"{where}: SIGKILL would cut the drain short"


@pytest.mark.parametrize(("where", "deployment", "container"), CONTAINERS, ids=CONTAINER_IDS)
def test_runs_unprivileged_with_only_tmp_and_home_writable(
    where: str, deployment: Doc, container: Doc
) -> None:
    pod = deployment["spec"]["template"]["spec"]
    pod_security = pod["securityContext"]
    security = container["securityContext"]
    assert pod_security["runAsNonRoot"] is True, where
    assert pod_security["runAsUser"] == dockerfile_user(), f"{where}: not the image's user"
    assert pod_security["seccompProfile"]["type"] == "RuntimeDefault", where
    assert security["allowPrivilegeEscalation"] is False, where
    assert security["capabilities"]["drop"] == ["ALL"], where
    assert security["readOnlyRootFilesystem"] is True, where
    empty_dirs = {volume["name"] for volume in pod["volumes"] if "emptyDir" in volume}
    writable = {m["mountPath"] for m in container["volumeMounts"] if m["name"] in empty_dirs}
    home = {env["name"]: env.get("value") for env in container.get("env", [])}.get("HOME")
    assert home is not None, f"{where}: HOME must point at a writable mount"
    assert {"/tmp", home} <= writable, where


def test_handlers_match_the_worker_cpu_request() -> None:
    (worker,) = containers(named("Deployment", "facegate-worker"))
    cpu = cpu_cores(worker["resources"]["requests"]["cpu"])
    assert int(config_map()["HANDLERS"]) == cpu


# --- Kubernetes: references between resources -------------------------------------------------


@pytest.mark.parametrize("service", of_kind("Service"), ids=lambda s: s["metadata"]["name"])
def test_service_selects_a_deployment_on_a_container_port(service: Doc) -> None:
    selector = service["spec"]["selector"]
    targets = [doc for _, doc in DEPLOYMENTS if selects(selector, doc)]
    assert len(targets) == 1, f"{service['metadata']['name']} selects {len(targets)} Deployments"
    ports = set().union(*(container_ports(c) for c in containers(targets[0])))
    for port in service["spec"]["ports"]:
        assert port.get("targetPort", port["port"]) in ports


def test_worker_urls_name_the_headless_worker_service() -> None:
    config = config_map()
    worker = named("Deployment", "facegate-worker")
    for url in config["FACEGATE_WORKER_URLS"].split(","):
        parts = urlsplit(url)
        service = named("Service", parts.hostname or "")
        assert selects(service["spec"]["selector"], worker), url
        assert parts.port in {port["port"] for port in service["spec"]["ports"]}, url
        if config.get("FACEGATE_WORKER_DNS") == "true":
            # A ClusterIP name resolves to one virtual address, hiding the HPA's new pods.
            assert service["spec"].get("clusterIP") == "None", url
            assert service["spec"].get("publishNotReadyAddresses", False) is False, url


def test_hpa_scales_an_existing_deployment_it_alone_sizes() -> None:
    (hpa,) = of_kind("HorizontalPodAutoscaler")
    target = hpa["spec"]["scaleTargetRef"]
    assert target["kind"] == "Deployment"
    deployment = named("Deployment", target["name"])
    # A replicas field would reset the HPA's count on every apply.
    assert "replicas" not in deployment["spec"]
    assert hpa["spec"]["minReplicas"] >= 2
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] > 0
    # A Utilization target is a share of the request; without one the HPA cannot compute it.
    for container in containers(deployment):
        assert "cpu" in container["resources"]["requests"], container["name"]


@pytest.mark.parametrize(
    "budget", of_kind("PodDisruptionBudget"), ids=lambda b: b["metadata"]["name"]
)
def test_disruption_budget_selects_a_deployment(budget: Doc) -> None:
    selector = budget["spec"]["selector"]["matchLabels"]
    assert any(selects(selector, doc) for _, doc in DEPLOYMENTS)


# --- Settings: every variable set is one facegate reads ---------------------------------------


def compose() -> Doc:
    loaded: Doc = yaml.safe_load(COMPOSE.read_text())
    return loaded


def compose_env(service: Doc) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): str(value) for key, value in env.items()}


def compose_command(service: Doc) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def _env_sources() -> list[tuple[str, set[str]]]:
    sources = [(f"ConfigMap/{d['metadata']['name']}", set(d["data"])) for d in of_kind("ConfigMap")]
    sources += [(f"Secret/{d['metadata']['name']}", set(secret_keys(d))) for d in of_kind("Secret")]
    sources += [
        (f"compose/{name}", set(compose_env(s))) for name, s in compose()["services"].items()
    ]
    return sources


ENV_SOURCES = _env_sources()


@pytest.mark.parametrize(("where", "names"), ENV_SOURCES, ids=[where for where, _ in ENV_SOURCES])
def test_every_variable_set_is_a_setting(where: str, names: set[str]) -> None:
    unknown = {name for name in names if name.upper() not in setting_env_names()}
    assert not unknown, f"{where} sets variables facegate does not read: {sorted(unknown)}"


def test_config_map_and_secret_make_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**config_map(), **secret_keys(named("Secret", "facegate-decrypt"))}.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    assert settings.environment == "production"


# --- compose ----------------------------------------------------------------------------------


def _worker_services() -> dict[str, Doc]:
    services: dict[str, Doc] = compose()["services"]
    return {
        name: service
        for name, service in services.items()
        if compose_command(service)[:2] == ["facegate", "worker"]
    }


def _port(command: list[str]) -> int:
    return int(command[command.index("--port") + 1])


def test_compose_runs_an_api_in_front_of_two_workers() -> None:
    services = compose()["services"]
    workers = _worker_services()
    assert len(workers) >= 2, f"workers: {sorted(workers)}"
    api = services["api"]
    assert compose_command(api)[:2] == ["facegate", "serve"]
    urls = set(compose_env(api)["FACEGATE_WORKER_URLS"].split(","))
    expected = {f"http://{name}:{_port(compose_command(w))}" for name, w in workers.items()}
    assert urls == expected
    depends = api["depends_on"]
    for name in workers:
        assert depends[name]["condition"] == "service_healthy", name


@pytest.mark.parametrize("name", sorted(compose()["services"]))
def test_compose_service_is_health_checked_and_needs_the_key(name: str) -> None:
    service = compose()["services"][name]
    port = _port(compose_command(service))
    check = " ".join(service["healthcheck"]["test"])
    assert "urllib" in check, name
    assert f"127.0.0.1:{port}/" in check, f"{name}: health check misses its own port"
    env = compose_env(service)
    for var in ("PARAM_DECRYPT_KEY", "PARAM_DECRYPT_IV"):
        assert re.fullmatch(rf"\$\{{{var}:\?.+\}}", env[var]), f"{name}: {var} must be required"
    build = service["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE


# --- Dockerfile -------------------------------------------------------------------------------


def dockerfile_stages() -> list[list[str]]:
    """The instructions of each stage, line continuations joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def dockerfile_user() -> int:
    users = [
        line.split()[1] for line in dockerfile_stages()[-1] if line.upper().startswith("USER ")
    ]
    assert users, "the runtime stage has no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), "a numeric USER lets runAsNonRoot verify it"
    return int(uid)


def test_dockerfile_runtime_is_non_root_and_build_verifies_models() -> None:
    assert dockerfile_user() != 0
    runs = [line for stage in dockerfile_stages() for line in stage if line.startswith("RUN ")]
    assert any("facegate models verify" in run for run in runs)


def _dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule, simplified: the last pattern matching the path or a parent decides."""
    excluded = False
    parents = [path] + [str(parent) for parent in Path(path).parents if str(parent) != "."]
    for pattern in patterns:
        negate = pattern.startswith("!")
        glob = pattern.lstrip("!").strip("/")
        regex = re.escape(glob).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*")
        regex = regex.replace(r"\?", "[^/]").replace(r"\[", "[").replace(r"\]", "]")
        if any(re.fullmatch(regex, candidate) for candidate in parents):
            excluded = not negate
    return excluded


def test_dockerignore_keeps_what_the_dockerfile_copies() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copies = [
        line.split()[1:-1]
        for stage in dockerfile_stages()
        for line in stage
        if line.startswith("COPY ") and "--from" not in line
    ]
    sources = [ROOT / source for args in copies for source in args]
    assert sources, "no COPY from the build context"
    for source in sources:
        files = [source] if source.is_file() else list(source.rglob("*"))
        for file in files:
            relative = file.relative_to(ROOT)
            # Local build leftovers, which .dockerignore is meant to drop.
            if file.is_dir() or any(
                part == "__pycache__" or part.endswith(".egg-info") for part in relative.parts
            ):
                continue
            assert not _dockerignored(str(relative), patterns), f"{relative} left out of context"
    for junk in (".venv/bin/python", ".git/HEAD", "tests/conftest.py", ".env"):
        assert _dockerignored(junk, patterns), f"{junk} would be sent to the Docker daemon"
