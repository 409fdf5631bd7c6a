"""The deployment files: Dockerfile, .dockerignore, docker-compose.yml and the wheel the image installs.

No Docker engine runs here, so nothing is built or started as a container: the Compose file is validated by
Debian's docker-compose (v1.29, `config -q`), the Dockerfile is read as text, and the wheel is built exactly
from what the Dockerfile copies, to prove it carries every data file the service reads at run time.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from service.auth.trust import SANDBOX_ISSUER
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / "deploy" / "production.env.example"
SANDBOX_JWKS = ROOT / "tests" / "data" / "sandbox-jwks.json"

SERVICES = {"cds", "hapi", "load-demo", "postgres", "redis", "cds-replica"}
BUILT_FROM_SOURCE = {"cds", "load-demo", "cds-replica"}
SCALE_PROFILE = {"postgres", "redis", "cds-replica"}
RUNTIME_UID = "10001"

# Package data the service reads at run time (importlib.resources), as paths inside the wheel.
PACKAGE_DATA_GLOBS = [
    "terminology/valuesets/*.json",
    "terminology/data/*.json",
    "cards/data/*.json",
    "service/store/alembic.ini",
    "service/store/migrations/env.py",
    "service/store/migrations/script.py.mako",
    "service/store/migrations/versions/*.py",
    "service/demo/catalog.json",
    "service/demo/patients/*.json",
]
# Files in the package folders that are documentation, not needed at run time.
NOT_SHIPPED = {"terminology/valuesets/CONVENTIONS.md"}


# ---- helpers -------------------------------------------------------------------------------------------


def _docker_compose() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        pytest.fail(
            "docker-compose is not installed; install Debian's v1 package to validate docker-compose.yml: "
            "apt-get install docker-compose"
        )
    return found


def _run_compose(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_docker_compose(), "-f", str(COMPOSE_FILE), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _compose_config() -> dict[str, Any]:
    """The Compose file as docker-compose normalizes it (anchors merged, ports and defaults expanded)."""
    result = _run_compose("config")
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    assert isinstance(config, dict)
    return config


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in dockerfile.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    pairs = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        pairs.append((keyword.upper(), rest.strip()))
    return pairs


def _stages(dockerfile: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Build stages: (the FROM arguments, the instructions that follow)."""
    stages: list[tuple[str, list[tuple[str, str]]]] = []
    for keyword, rest in _instructions(dockerfile):
        if keyword == "FROM":
            stages.append((rest, []))
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1][1].append((keyword, rest))
    return stages


def _image_is_pinned(reference: str) -> bool:
    """An explicit tag that is not `latest` (a digest alone also pins)."""
    name, _, digest = reference.partition("@")
    if digest and not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        return False
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return bool(digest)
    tag = last.split(":", 1)[1]
    return bool(tag) and tag != "latest"


def _copied_into_build_stage() -> list[str]:
    """Paths of the build context the first (wheel-building) stage COPYs."""
    (_, first_stage), *_ = _stages(DOCKERFILE.read_text(encoding="utf-8"))
    sources: list[str] = []
    for keyword, rest in first_stage:
        if keyword in {"COPY", "ADD"}:
            words = [w for w in rest.split() if not w.startswith("--")]
            sources.extend(w.rstrip("/") for w in words[:-1])
    return sources


def _shipped_package_dirs() -> list[str]:
    """Top-level package folders named by `[tool.setuptools.packages.find] include`."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include: list[str] = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted({pattern.rstrip("*").split(".")[0] for pattern in include})


def _source_files(package_dir: str) -> set[str]:
    return {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / package_dir).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Build the wheel from a copy of exactly what the Dockerfile copies, and list its files."""
    context = tmp_path_factory.mktemp("context")
    for source in _copied_into_build_stage():
        origin = ROOT / source
        assert origin.exists(), f"the Dockerfile copies {source}, which does not exist"
        if origin.is_dir():
            shutil.copytree(
                origin, context / source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
            )
        else:
            shutil.copy2(origin, context / source)
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(context)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"pip wheel failed:\n{result.stdout}\n{result.stderr}"
    (wheel,) = out.glob("calcinosis_cds-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


# ---- docker-compose.yml --------------------------------------------------------------------------------


def test_compose_file_is_valid_for_docker_compose_v1() -> None:
    result = _run_compose("config", "-q")
    assert result.returncode == 0, f"docker-compose config -q rejected docker-compose.yml:\n{result.stderr}"


def test_compose_services_and_pinned_images() -> None:
    services: dict[str, Any] = _compose_config()["services"]
    assert set(services) == SERVICES
    for name, service in services.items():
        image = service.get("image")
        assert isinstance(image, str), f"{name} has no image name"
        if name in BUILT_FROM_SOURCE:
            assert "build" in service, f"{name} must run the image built from this repository"
            assert service["image"] == services["cds"]["image"], f"{name} must reuse the cds image"
        else:
            assert "build" not in service
            assert _image_is_pinned(image), f"{name}: image {image!r} is not pinned to a tag"
            assert "@sha256:" in image, f"{name}: image {image!r} is not pinned to a digest"


def test_compose_wiring() -> None:
    services: dict[str, Any] = _compose_config()["services"]
    cds = services["cds"]
    # The service lives in HAPI's network namespace, so http://localhost:8090/fhir - the URL a browser-based
    # sandbox sends as fhirServer - reaches HAPI from the service too; hapi publishes both ports.
    assert cds["network_mode"] == "service:hapi"
    assert "ports" not in cds
    assert {p["published"]: p["target"] for p in services["hapi"]["ports"]} == {8080: 8080, 8090: 8090}
    assert services["hapi"]["environment"]["SERVER_PORT"] == "8090"
    assert cds["environment"]["CDS_ENVIRONMENT"] == "development"
    assert json.loads(cds["environment"]["CDS_FHIR_SERVER_ALLOWLIST"]) == ["http://localhost:8090/fhir"]
    assert cds["environment"]["CDS_PUBLIC_BASE_URL"] == "http://localhost:8080"
    assert any(v.split(":")[1] == "/data" for v in cds["volumes"]), "cds keeps its SQLite file in a volume"

    load = services["load-demo"]
    assert load["command"][:4] == ["calcinosis-cds", "load-demo", "--fhir-server", "http://hapi:8090/fhir"]
    assert "--wait" in load["command"], "HAPI has no healthcheck: the loader must wait for it"
    assert load["restart"] == "no"
    assert "hapi" in load["depends_on"]

    replica = services["cds-replica"]["environment"]
    assert replica["CDS_DATABASE_URL"] == "postgresql://cds:cds@postgres:5432/cds"
    assert replica["CDS_REDIS_URL"] == "redis://redis:6379/0"
    assert {"postgres", "redis"} <= set(services["cds-replica"]["depends_on"])


def test_compose_service_trusts_the_official_sandbox_and_production_would_refuse_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 14: the compose file trusted no issuer, so the sandbox's token got a 401 and it showed "All
    clear!". Its settings must parse, trust the sandbox (key set inline, jku allowed) - and be refused as
    production settings."""
    environment: dict[str, str] = _compose_config()["services"]["cds"]["environment"]
    for name in [n for n in os.environ if n.startswith("CDS_")]:
        monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    trust = Settings().trusted_issuers[SANDBOX_ISSUER]
    assert trust.jwks == json.loads(
        (ROOT / "tests" / "data" / "sandbox-jwks.json").read_text(encoding="utf-8")
    )
    assert trust.jku == (f"{SANDBOX_ISSUER}/.well-known/jwks.json",)
    monkeypatch.setenv("CDS_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match=r"refused: sandbox-key"):
        Settings(
            fhir_server_allowlist=["https://ehr.example.org/fhir"],
            public_base_url="https://cds.example.org",
            patient_hash_key="k" * 40,
        )


def test_compose_profiles_and_health_conditions() -> None:
    services: dict[str, Any] = _compose_config()["services"]
    for name, service in services.items():
        expected = ["scale"] if name in SCALE_PROFILE else None
        assert service.get("profiles") == expected, f"{name}: profiles {service.get('profiles')}"
        # `config -q` accepts service_healthy on a service without a healthcheck; `up` then fails.
        for dependency, condition in service.get("depends_on", {}).items():
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits for {dependency}'s healthcheck"


# ---- Dockerfile ----------------------------------------------------------------------------------------


def test_dockerfile_is_pinned_small_and_non_root() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    stages = _stages(text)
    assert len(stages) >= 2, "multi-stage: the wheel is built in a stage of its own"
    stage_names: set[str] = set()
    for from_args, _ in stages:
        words = [w for w in from_args.split() if not w.startswith("--")]
        base = words[0]
        if base not in stage_names:
            assert _image_is_pinned(base), f"base image {base!r} is not pinned to a tag"
            assert "@sha256:" in base, f"base image {base!r} is not pinned to a digest"
            assert base.startswith("python:3.11"), base
        if len(words) == 3 and words[1].upper() == "AS":
            stage_names.add(words[2])

    _, runtime = stages[-1]
    users = [rest for keyword, rest in runtime if keyword == "USER"]
    assert users, "the runtime stage sets no USER (it would run as root)"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert users[-1].split(":")[0] in {RUNTIME_UID, "cds"}
    assert ("WORKDIR", "/app") in runtime
    assert ("EXPOSE", "8080") in runtime
    healthchecks = [rest for keyword, rest in runtime if keyword == "HEALTHCHECK"]
    assert len(healthchecks) == 1
    assert "/healthz" in healthchecks[0]
    assert "urllib" in healthchecks[0]
    cmds = [rest for keyword, rest in runtime if keyword == "CMD"]
    assert json.loads(cmds[-1]) == ["calcinosis-cds", "serve", "--host", "0.0.0.0", "--port", "8080"]
    envs = " ".join(rest for keyword, rest in runtime if keyword == "ENV")
    assert "CDS_DATABASE_URL=sqlite:////data/calcinosis-cds.db" in envs
    assert any("chown" in rest and "/data" in rest for keyword, rest in runtime if keyword == "RUN")
    assert "latest" not in text.lower()


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    entries = {line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines() if line.strip()}
    for required in [".git", ".venv", "tests/fhir_server/node_modules", "**/*.db", "bench/results", "docs"]:
        assert required in entries, f".dockerignore lacks {required}"
    assert "**/__pycache__" in entries
    assert "**/node_modules" in entries


def test_production_env_example_names_real_settings() -> None:
    fields = {f"CDS_{name.upper()}" for name in Settings.model_fields}
    keys = [
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert keys
    assert set(keys) <= fields, f"unknown settings: {set(keys) - fields}"
    assert "CDS_PATIENT_HASH_KEY" in keys


# ---- the wheel -----------------------------------------------------------------------------------------


def test_dockerfile_copies_every_package() -> None:
    copied = set(_copied_into_build_stage())
    assert {"pyproject.toml", "README.md"} <= copied
    for package_dir in _shipped_package_dirs():
        assert package_dir in copied, f"the Dockerfile does not copy the package folder {package_dir}/"


def test_wheel_carries_the_package_data(wheel_names: set[str]) -> None:
    for pattern in PACKAGE_DATA_GLOBS:
        in_wheel = set(fnmatch.filter(wheel_names, pattern))
        in_source = {f for d in _shipped_package_dirs() for f in fnmatch.filter(_source_files(d), pattern)}
        assert in_wheel, f"no {pattern} in the wheel"
        assert in_source <= in_wheel, f"missing from the wheel: {sorted(in_source - in_wheel)}"


def test_wheel_carries_every_file_of_the_packages(wheel_names: set[str]) -> None:
    """A data file added later without a `package-data` entry would work from the checkout, not the image."""
    expected = {f for d in _shipped_package_dirs() for f in _source_files(d)} - NOT_SHIPPED
    missing = sorted(expected - wheel_names)
    assert not missing, f"in the source tree but not in the wheel (add them to package-data): {missing}"
    assert any(name.endswith("entry_points.txt") for name in wheel_names)
