"""``check`` against a service that requires CDS Hooks JWTs: ``dev-keys`` makes a key pair and prints the
settings that trust it; ``check --sign-key --issuer`` signs each call with it (issue 14)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from service.cli.main import main
from service.demo import demo_patients
from tests.servers import FhirTestServer, ServiceProcess, free_port
from tests.test_sandbox_cli import outline, run

CREST = next(p for p in demo_patients() if p.id == "demo-crest")


def exported(printed: str) -> dict[str, str]:
    """The ``export NAME=value`` lines dev-keys prints, as a shell would read them."""
    pairs = [
        shlex.split(line.removeprefix("export "))[0]
        for line in printed.splitlines()
        if line.startswith("export ")
    ]
    return dict(pair.split("=", 1) for pair in pairs)


def test_dev_keys_settings_and_a_signed_check_reach_a_service_that_requires_tokens(
    fhir: FhirTestServer, tmp_path: Path
) -> None:
    assert run("load-demo", "--fhir-server", fhir.base, f"--token={fhir.token}").returncode == 0
    port = free_port()
    made = run("dev-keys", "--out-dir", str(tmp_path / "keys"), "--service-url", f"http://127.0.0.1:{port}")
    assert made.returncode == 0, made.stderr
    settings = exported(made.stdout)
    assert set(settings) == {"CDS_AUTH_REQUIRED", "CDS_PUBLIC_BASE_URL", "CDS_TRUSTED_ISSUERS"}
    (issuer,) = json.loads(settings["CDS_TRUSTED_ISSUERS"])
    # The printed check command, pointed at this test's FHIR server.
    command = shlex.split(made.stdout.splitlines()[-1])[1:]
    command[command.index("--fhir-server") + 1] = fhir.base
    assert command[command.index("--issuer") + 1] == issuer
    with ServiceProcess(settings, port=port):
        signed = run(*command, f"--token={fhir.token}", "--json")
        unsigned = run(*command[: command.index("--sign-key")], f"--token={fhir.token}")
    assert signed.returncode == 0, signed.stderr
    assert outline(json.loads(signed.stdout)) == list(CREST.expected_cards)
    assert unsigned.returncode == 1
    assert "discovery at" in unsigned.stderr
    assert "HTTP 401" in unsigned.stderr
    assert "--sign-key and --issuer" in unsigned.stderr


def test_a_token_from_an_issuer_the_service_does_not_trust_is_refused_with_a_hint(
    fhir: FhirTestServer, tmp_path: Path
) -> None:
    port = free_port()
    made = run("dev-keys", "--out-dir", str(tmp_path), "--service-url", f"http://127.0.0.1:{port}")
    settings = exported(made.stdout)
    with ServiceProcess(settings, port=port) as service:
        result = run(
            "check", "--fhir-server", fhir.base, "--patient", "demo-crest", "--service-url", service.url,
            "--sign-key", str(tmp_path / "signing-key.jwk"), "--issuer", "https://someone-else.example",
        )  # fmt: skip
    assert result.returncode == 1
    assert "HTTP 401" in result.stderr
    assert "is --issuer trusted by the service" in result.stderr


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """The command line in-process (for errors found before any network call): status and stderr."""
    status = main(list(args))
    return status, capsys.readouterr().err


def test_dev_keys_never_overwrites_a_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "dev-keys", "--out-dir", str(tmp_path))[0] == 0
    key = (tmp_path / "signing-key.jwk").read_text()
    assert cli(capsys, "dev-keys", "--out-dir", str(tmp_path)) == (
        1,
        f"calcinosis-cds: {tmp_path / 'signing-key.jwk'} exists; choose another --out-dir or remove it\n",
    )
    assert (tmp_path / "signing-key.jwk").read_text() == key
    assert (tmp_path / "signing-key.jwk").stat().st_mode & 0o077 == 0  # private: the owner's only


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--sign-key", "k.jwk"], "--sign-key and --issuer go together"),
        (["--sign-key", "k.jwk", "--issuer", "i"], "--sign-key signs calls to a running service"),
        (["--service-url", "http://127.0.0.1:1", "--sign-key", "jwks.json", "--issuer", "i"], "no 'd'"),
    ],
    ids=["issuer missing", "service url missing", "public key"],
)
def test_sign_key_misuse_is_a_clear_error(
    extra: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert cli(capsys, "dev-keys", "--out-dir", str(tmp_path))[0] == 0
    monkeypatch.chdir(tmp_path)
    status, err = cli(capsys, "check", "--fhir-server", "http://127.0.0.1:1/fhir", "--patient", "p", *extra)
    assert status == 1
    assert message in err
    assert err.count("\n") == 1
