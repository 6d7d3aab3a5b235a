"""Static checks of the deployment files (no Docker engine here): docker-compose.yml,
deploy/k8s/*.yaml and deploy/Dockerfile agree with the services registry (crm_shared.registry),
give every service its own database, keep secrets out of the repository and run the production
profile. A registry entry without its deploy blocks fails test_every_registry_service_is_deployed,
which names each missing block."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from crm_cli.services import load, missing_parts, module_available, settings_for
from crm_shared import registry
from crm_shared.registry import SERVICES, ServiceSpec
from crm_shared.settings import PUBLISHED_SECRETS

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE_FILE = ROOT / "docker-compose.yml"
NAMESPACE = "qazaq-crm"
SECRET_WORDS = ("SECRET", "PASSWORD", "DATABASE_URL", "API_KEY", "TOKEN")
INTERPOLATION = re.compile(r"^\$\{[A-Z][A-Z0-9_]*(:?[?-][^}]*)?\}$")
REQUIRED_VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*):\?[^}]*\}")

DATABASE_URL = re.compile(
    r"^(?P<scheme>[a-z0-9+]+)://(?P<user>[^:@/]+):(?P<password>\$\{[^}]*\}|[^@]*)"
    r"@(?P<host>[^:/]+):(?P<port>\d+)/(?P<database>[A-Za-z0-9_]+)$"
)

ids = [spec.name for spec in SERVICES]


def database_url_parts(url: str) -> dict[str, str]:
    """Like urlsplit, but a ${VAR:?message} password does not confuse it."""
    match = DATABASE_URL.match(url)
    assert match, f"not a database URL: {url}"
    return match.groupdict()


def secret_like(name: str) -> bool:
    return any(word in name.upper() for word in SECRET_WORDS)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def k8s() -> list[dict]:
    documents = []
    for path in sorted(K8S.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                document["__file__"] = path.name
                documents.append(document)
    return documents


def k8s_object(k8s: list[dict], kind: str, name: str) -> dict:
    found = [d for d in k8s if d.get("kind") == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name!r} in deploy/k8s, found {len(found)}"
    return found[0]


def containers(workload: dict) -> list[dict]:
    return workload["spec"]["template"]["spec"]["containers"]


def config_map(k8s: list[dict]) -> dict[str, str]:
    return k8s_object(k8s, "ConfigMap", "crm-config")["data"]


def missing_deploy_blocks(compose: dict, k8s: list[dict], spec: ServiceSpec) -> list[str]:
    """What a registry entry needs in the deploy files and does not have there."""
    missing = []
    services = compose["services"]
    for name in (spec.name, f"{spec.name}-migrate"):
        if name not in services:
            missing.append(f"docker-compose.yml: service {name!r}")
    postgres = services["postgres"]["environment"]
    if spec.name not in postgres["CRM_DATABASES"].split():
        missing.append(f"docker-compose.yml: {spec.name!r} in the postgres CRM_DATABASES list (PostgreSQL init)")
    if f"{spec.env_prefix}DB_PASSWORD" not in postgres:
        missing.append(f"docker-compose.yml: {spec.env_prefix}DB_PASSWORD in the postgres environment")
    for kind, name in (("Deployment", spec.name), ("Service", spec.name), ("Job", f"{spec.name}-migrate")):
        if not [d for d in k8s if d.get("kind") == kind and d["metadata"]["name"] == name]:
            missing.append(f"deploy/k8s: {kind} {name!r}")
    k8s_readme = (K8S / "README.md").read_text()
    if f"create secret generic crm-{spec.name} " not in k8s_readme:
        missing.append(f"deploy/k8s/README.md: how to create the Secret crm-{spec.name} (its database-url)")
    release = next((line for line in k8s_readme.splitlines() if "delete job" in line), "")
    if f" {spec.name}-migrate " not in release:
        missing.append(f"deploy/k8s/README.md: {spec.name}-migrate in the release's `delete job` command")
    if not spec.is_gateway:
        gateway = registry.gateway()
        url_variable = gateway.env_name(spec.gateway_url_setting)
        if url_variable not in services.get(gateway.name, {}).get("environment", {}):
            missing.append(f"docker-compose.yml: {url_variable} in the {gateway.name}'s environment")
        if url_variable not in config_map(k8s):
            missing.append(f"deploy/k8s/configmap.yaml: {url_variable}")
    return missing


@pytest.mark.parametrize("spec", SERVICES, ids=ids)
def test_every_registry_service_is_deployed(compose, k8s, spec: ServiceSpec):
    missing = missing_deploy_blocks(compose, k8s, spec)
    assert not missing, f"the registry has {spec.name!r}, but the deploy files lack: " + "; ".join(missing)


def test_a_registry_entry_without_deploy_blocks_is_named(compose, k8s):
    field_service = ServiceSpec(
        name="field_service",
        app_factory="crm_field_service.main:create_app",
        settings_class="crm_field_service.config:FieldServiceSettings",
        migrations_dir="services/field_service/migrations",
        seed=None,
        http_port=8109,
        grpc_port=50109,
    )
    assert missing_deploy_blocks(compose, k8s, field_service) == [
        "docker-compose.yml: service 'field_service'",
        "docker-compose.yml: service 'field_service-migrate'",
        "docker-compose.yml: 'field_service' in the postgres CRM_DATABASES list (PostgreSQL init)",
        "docker-compose.yml: CRM_FIELD_SERVICE_DB_PASSWORD in the postgres environment",
        "deploy/k8s: Deployment 'field_service'",
        "deploy/k8s: Service 'field_service'",
        "deploy/k8s: Job 'field_service-migrate'",
        "deploy/k8s/README.md: how to create the Secret crm-field_service (its database-url)",
        "deploy/k8s/README.md: field_service-migrate in the release's `delete job` command",
        "docker-compose.yml: CRM_GATEWAY_FIELD_SERVICE_URL in the gateway's environment",
        "deploy/k8s/configmap.yaml: CRM_GATEWAY_FIELD_SERVICE_URL",
    ]


# -- docker-compose.yml -----------------------------------------------------------------------


@pytest.mark.parametrize("spec", SERVICES, ids=ids)
def test_compose_runs_every_service_and_its_migration_job(compose, spec: ServiceSpec):
    services = compose["services"]
    assert spec.name in services and f"{spec.name}-migrate" in services
    for name in (spec.name, f"{spec.name}-migrate"):
        build = services[name]["build"]
        assert build["dockerfile"] == "deploy/Dockerfile" and build["args"]["SERVICE"] == spec.name
        assert services[name]["image"].startswith(f"qazaq-crm/{spec.name}:")
    assert services[f"{spec.name}-migrate"]["command"] == ["crm", "migrate", spec.name]
    assert services[f"{spec.name}-migrate"]["restart"] == "no"
    needs = services[spec.name]["depends_on"]
    assert needs[f"{spec.name}-migrate"]["condition"] == "service_completed_successfully"
    assert needs["topics"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("spec", SERVICES, ids=ids)
def test_compose_ports_match_the_registry(compose, spec: ServiceSpec):
    service = compose["services"][spec.name]
    env = service["environment"]
    assert int(env[spec.env_name("http_port")]) == spec.http_port
    assert env[spec.env_name("http_host")] == "0.0.0.0"
    healthcheck = " ".join(service["healthcheck"]["test"])
    assert f"127.0.0.1:{spec.http_port}{spec.readiness_path}" in healthcheck
    if spec.grpc_port:
        assert int(env[spec.env_name("grpc_port")]) == spec.grpc_port
        assert env[spec.env_name("grpc_host")] == "0.0.0.0"
    exposed = {int(str(p).split(":")[-1]) for p in service.get("expose", []) + service.get("ports", [])}
    assert {p for p in (spec.http_port, spec.grpc_port) if p} <= exposed
    if spec.is_gateway:
        assert f"{spec.http_port}:{spec.http_port}" in service["ports"]  # the only public door
    else:
        assert "ports" not in service  # reachable through the gateway only


def test_only_the_gateway_is_published(compose):
    published = {name for name, service in compose["services"].items() if service.get("ports")}
    assert published == {registry.gateway().name}


@pytest.mark.parametrize("spec", registry.backend_services(), ids=[s.name for s in registry.backend_services()])
def test_compose_gateway_routes_to_each_service(compose, spec: ServiceSpec):
    gateway = compose["services"][registry.gateway().name]
    url = urlsplit(gateway["environment"][registry.gateway().env_name(spec.gateway_url_setting)])
    assert (url.hostname, url.port) == (spec.name, spec.http_port)
    assert gateway["depends_on"][spec.name]["condition"] == "service_healthy"


@pytest.mark.parametrize("spec", SERVICES, ids=ids)
def test_compose_gives_each_service_its_own_database(compose, spec: ServiceSpec):
    for name in (spec.name, f"{spec.name}-migrate"):
        env = compose["services"][name]["environment"]
        url = database_url_parts(env[spec.env_name("database_url")])
        assert url["scheme"] == "postgresql+asyncpg" and url["host"] == "postgres" and url["port"] == "5432"
        assert url["database"] == spec.database_name and url["user"] == spec.database_name
        assert REQUIRED_VARIABLE.fullmatch(url["password"]), f"{name}: the password must come from the environment"
        assert f"{spec.env_prefix}DB_PASSWORD" in url["password"]
        others = [k for k in env if k.endswith("_DATABASE_URL") and k != spec.env_name("database_url")]
        assert not others, f"{name} sees another service's database: {others}"
    postgres = compose["services"]["postgres"]["environment"]
    assert spec.name in postgres["CRM_DATABASES"].split()
    assert REQUIRED_VARIABLE.fullmatch(postgres[f"{spec.env_prefix}DB_PASSWORD"])


def test_compose_database_init_script_creates_a_database_and_role_per_service(compose):
    mounts = compose["services"]["postgres"]["volumes"]
    script_mount = next(m for m in mounts if "docker-entrypoint-initdb.d" in m)
    script = ROOT / script_mount.split(":")[0]
    assert script.is_file() and script.stat().st_mode & 0o111, "the init script must exist and be executable"
    text = script.read_text()
    assert 'role="crm_${service}"' in text and 'database="crm_${service}"' in text
    assert 'CREATE DATABASE :"database" OWNER :"role"' in text
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0


def test_compose_kafka_runs_in_kraft_mode_and_the_services_use_it(compose):
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert not any("ZOOKEEPER" in key for key in env)
    advertised = env["KAFKA_ADVERTISED_LISTENERS"].split("://", 1)[1]
    for spec in SERVICES:
        assert compose["services"][spec.name]["environment"][spec.env_name("kafka_bootstrap_servers")] == advertised
    topics = compose["services"]["topics"]
    assert topics["command"][:3] == ["crm", "topics", "--create"] and advertised in topics["command"]


def test_compose_traces_go_to_the_collector(compose):
    collector = compose["services"]["otel-collector"]
    mount = next(v for v in collector["volumes"] if v.startswith("./deploy/"))
    config = yaml.safe_load((ROOT / mount.split(":")[0]).read_text())
    http_endpoint = config["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    assert "otlp" in config["service"]["pipelines"]["traces"]["receivers"]
    port = int(http_endpoint.rsplit(":", 1)[1])
    for spec in SERVICES:
        url = urlsplit(compose["services"][spec.name]["environment"][spec.env_name("otlp_endpoint")])
        assert (url.hostname, url.port) == ("otel-collector", port)


def test_compose_runs_every_process_in_the_production_profile(compose):
    for name, service in compose["services"].items():
        spec = next((s for s in SERVICES if name in (s.name, f"{s.name}-migrate")), None)
        if spec:
            assert service["environment"][spec.env_name("profile")] == "production", name


def test_compose_holds_no_secret_values(compose):
    for name, service in compose["services"].items():
        env = service.get("environment", {})
        assert isinstance(env, dict), f"{name}: use a mapping for environment"
        for key, value in env.items():
            value = str(value)
            if key.endswith("DATABASE_URL"):
                value = database_url_parts(value)["password"]
            if secret_like(key):
                assert INTERPOLATION.match(value), f"{name}: {key} must come from the environment (${{...}})"


def test_every_required_variable_is_documented_in_env_example(compose):
    example = dict(
        line.split("=", 1)
        for line in (DEPLOY / "env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    required = set(REQUIRED_VARIABLE.findall(COMPOSE_FILE.read_text()))
    assert required and required <= set(example)
    assert all(example[name] == "" for name in required), "env.example names the secrets, without values"


def test_no_env_file_is_committed():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert not [path for path in tracked if Path(path).name == ".env" or path.endswith("/.env")]


def test_no_published_secret_appears_in_the_deploy_files():
    files = [COMPOSE_FILE, *DEPLOY.rglob("*")]
    for path in files:
        if path.is_file():
            text = path.read_text(errors="replace")
            assert not [secret for secret in PUBLISHED_SECRETS if secret in text], path


# -- deploy/k8s ---------------------------------------------------------------------------------


def test_every_manifest_is_listed_in_the_kustomization_and_namespaced(k8s):
    kustomization = next(d for d in k8s if d.get("kind") == "Kustomization")
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert kustomization["namespace"] == NAMESPACE
    for document in k8s:
        if document.get("kind") not in ("Kustomization", "Namespace"):
            assert document["metadata"]["namespace"] == NAMESPACE, document["__file__"]
    assert k8s_object(k8s, "Namespace", NAMESPACE)


@pytest.mark.parametrize("spec", SERVICES, ids=ids)
def test_k8s_runs_every_service_with_a_service_and_a_migration_job(k8s, spec: ServiceSpec):
    deployment = k8s_object(k8s, "Deployment", spec.name)
    (container,) = containers(deployment)
    assert container["image"].startswith(f"qazaq-crm/{spec.name}:")
    assert container["command"][:3] == ["crm", "serve", spec.name]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    service = k8s_object(k8s, "Service", spec.name)
    assert service["spec"]["selector"] == selector
    job = k8s_object(k8s, "Job", f"{spec.name}-migrate")
    (migrate,) = containers(job)
    assert migrate["command"] == ["crm", "migrate", spec.name]
    assert migrate["image"].split(":")[0] == container["image"].split(":")[0]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in ("OnFailure", "Never")


@pytest.mark.parametrize("spec", SERVICES, ids=ids)
def test_k8s_ports_match_the_registry(k8s, spec: ServiceSpec):
    (container,) = containers(k8s_object(k8s, "Deployment", spec.name))
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    expected = {"http": spec.http_port, **({"grpc": spec.grpc_port} if spec.grpc_port else {})}
    assert ports == expected
    service_ports = {
        p["name"]: (p["port"], p["targetPort"]) for p in k8s_object(k8s, "Service", spec.name)["spec"]["ports"]
    }
    assert service_ports == {name: (port, name) for name, port in expected.items()}
    settings = config_map(k8s)
    assert int(settings[spec.env_name("http_port")]) == spec.http_port
    assert settings[spec.env_name("http_host")] == "0.0.0.0"
    if spec.grpc_port:
        assert int(settings[spec.env_name("grpc_port")]) == spec.grpc_port
        assert settings[spec.env_name("grpc_host")] == "0.0.0.0"


@pytest.mark.parametrize("spec", registry.backend_services(), ids=[s.name for s in registry.backend_services()])
def test_k8s_gateway_routes_to_each_service(k8s, spec: ServiceSpec):
    url = urlsplit(config_map(k8s)[registry.gateway().env_name(spec.gateway_url_setting)])
    assert url.hostname.split(".")[:2] == [spec.name, NAMESPACE] and url.port == spec.http_port


def served_by(spec: ServiceSpec, tmp_path: Path, paths: list[str]) -> dict[str, bool]:
    """Whether the service's app (built, not started) has a GET route for each path."""
    from starlette.routing import Match

    missing = [m for m in missing_parts(spec) if not m.startswith("migrations")]
    if missing:
        pytest.skip(f"{spec.name} is not there yet: {missing}")
    settings = settings_for(spec, database_url=f"sqlite+aiosqlite:///{tmp_path / 'probe.db'}")
    app = load(spec.app_factory)(settings)

    def served(path: str) -> bool:
        scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": [], "query_string": b""}
        return any(route.matches(scope)[0] is Match.FULL for route in app.router.routes)

    return {path: served(path) for path in paths}


@pytest.mark.parametrize("spec", SERVICES, ids=ids)
def test_k8s_probes_point_at_real_paths(k8s, spec: ServiceSpec, tmp_path):
    (container,) = containers(k8s_object(k8s, "Deployment", spec.name))
    readiness, liveness = container["readinessProbe"]["httpGet"], container["livenessProbe"]["httpGet"]
    assert (readiness["path"], liveness["path"]) == (spec.readiness_path, spec.liveness_path)
    assert readiness["port"] == liveness["port"] == "http"
    served = served_by(spec, tmp_path, [spec.readiness_path, spec.liveness_path, "/no-such-probe"])
    assert served == {spec.readiness_path: True, spec.liveness_path: True, "/no-such-probe": False}


@pytest.mark.parametrize("spec", SERVICES, ids=ids)
def test_k8s_each_service_reads_only_its_own_database_secret(k8s, spec: ServiceSpec):
    for kind, name in (("Deployment", spec.name), ("Job", f"{spec.name}-migrate")):
        (container,) = containers(k8s_object(k8s, kind, name))
        env = {e["name"]: e for e in container.get("env", [])}
        reference = env[spec.env_name("database_url")]["valueFrom"]["secretKeyRef"]
        assert reference == {"name": f"crm-{spec.name}", "key": "database-url"}
        others = [k for k in env if k.endswith("_DATABASE_URL") and k != spec.env_name("database_url")]
        assert not others


def test_k8s_secrets_are_references_only(k8s):
    assert not [d for d in k8s if d.get("kind") == "Secret"], "Secrets are created out of band (deploy/k8s/README.md)"
    assert not [k for k in config_map(k8s) if secret_like(k)]
    for document in k8s:
        if document.get("kind") in ("Deployment", "Job"):
            for container in containers(document):
                for variable in container.get("env", []):
                    if secret_like(variable["name"]):
                        assert "value" not in variable and "secretKeyRef" in variable["valueFrom"], variable["name"]


@pytest.mark.parametrize("spec", SERVICES, ids=ids)
def test_k8s_every_process_has_its_secrets(k8s, spec: ServiceSpec):
    """The production profile refuses to start while a secret keeps its development default."""
    (container,) = containers(k8s_object(k8s, "Deployment", spec.name))
    provided = {e["name"] for e in container.get("env", [])} | set(config_map(k8s))
    settings_class = load(spec.settings_class) if module_available(spec.settings_class) else None
    fields = settings_class.secret_fields() if settings_class else ("internal_token_secret",)
    for field in (*fields, "database_url"):
        assert spec.env_name(field) in provided


def test_k8s_runs_the_production_profile_everywhere(k8s):
    settings = config_map(k8s)
    for spec in SERVICES:
        assert settings[spec.env_name("profile")] == "production"
    for document in k8s:
        if document.get("kind") in ("Deployment", "Job"):
            for container in containers(document):
                assert {"configMapRef": {"name": "crm-config"}} in container.get("envFrom", [])
                assert not [e for e in container.get("env", []) if e["name"].endswith("_PROFILE")]


def test_k8s_pods_run_as_non_root(k8s):
    for document in k8s:
        if document.get("kind") in ("Deployment", "Job"):
            pod = document["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
            for container in pod["containers"]:
                assert container["securityContext"]["allowPrivilegeEscalation"] is False


# -- deploy/Dockerfile ----------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    return [
        tuple(line.strip().split(None, 1))
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def test_dockerfile_builds_one_service_on_python_slim_as_non_root():
    instructions = dockerfile_instructions()
    args = {value.split("=")[0] for op, value in instructions if op == "ARG"}
    assert {"SERVICE", "PYTHON_IMAGE"} <= args
    image = next(value for op, value in instructions if op == "ARG" and value.startswith("PYTHON_IMAGE="))
    assert image == "PYTHON_IMAGE=python:3.11-slim"
    assert all(value.split()[0] == "${PYTHON_IMAGE}" for op, value in instructions if op == "FROM")
    install = next(value for op, value in instructions if op == "RUN" and "pip install" in value)
    assert "./shared ./contracts" in install and '"./${dir}"' in install and "./cli" in install
    user = [value for op, value in instructions if op == "USER"][-1]
    assert user.split(":")[0] not in ("root", "0")
    command = shlex.split(" ".join(yaml.safe_load([v for op, v in instructions if op == "CMD"][-1])))
    assert command[:2] == ["crm", "serve"]


@pytest.mark.parametrize("spec", SERVICES, ids=ids)
def test_dockerfile_installs_each_service_from_where_the_registry_has_it(spec: ServiceSpec):
    install = next(value for op, value in dockerfile_instructions() if op == "RUN" and "pip install" in value)
    assert 'case "${SERVICE}" in gateway) dir=gateway ;; *) dir="services/${SERVICE}" ;; esac' in install
    package = Path("gateway" if spec.name == "gateway" else f"services/{spec.name}")
    assert Path(spec.migrations_dir) == package / "migrations"
    assert (ROOT / package / "pyproject.toml").is_file()


def test_crm_serve_runs_uvicorn_with_the_registry_factory(monkeypatch, tmp_path):
    """What the image's CMD does, without replacing this process."""
    from typer.testing import CliRunner

    from crm_cli import main

    spec = registry.get_service("sales")
    if not module_available(spec.settings_class):
        pytest.skip("sales settings are not there yet")
    executed = []
    monkeypatch.setattr(main.os, "execve", lambda path, argv, env: executed.append(argv))
    monkeypatch.delenv(spec.env_name("http_port"), raising=False)
    result = CliRunner().invoke(
        main.app, ["serve", "--host", "0.0.0.0"], env={"CRM_SERVICE": "sales", "CRM_VAR_DIR": str(tmp_path)}
    )
    assert result.exit_code == 0, result.output
    argv = executed[0]
    assert argv[1:5] == ["-m", "uvicorn", spec.app_factory, "--factory"]
    assert argv[argv.index("--host") + 1] == "0.0.0.0" and argv[argv.index("--port") + 1] == str(spec.http_port)


def test_crm_serve_refuses_development_secrets_in_production():
    from typer.testing import CliRunner

    from crm_cli import main

    result = CliRunner().invoke(
        main.app,
        ["serve", "gateway"],
        env={
            "CRM_GATEWAY_PROFILE": "production",
            "CRM_GATEWAY_DATABASE_URL": "postgresql+asyncpg://u:p@db/crm_gateway",
        },
    )
    assert result.exit_code == 1
    assert "gateway settings are not valid" in result.output and "internal_token_secret" in result.output


def test_docker_build_context_leaves_out_local_state():
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert {".env", "**/.venv", "**/var", ".git"} <= set(ignored)
