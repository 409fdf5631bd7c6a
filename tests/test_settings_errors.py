"""A bad setting stops the command with one line per problem - which CDS_* variable, what is wrong, what is
expected - and exit status 2; never a traceback, a pydantic error block, or the value itself (issue 14)."""

from __future__ import annotations

import json

import pytest

from service.cli.main import main

VALUE = "s3cret-in-the-value"  # not a secret: shows that values are never echoed


def refused(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], **env: str) -> list[str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["serve"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Traceback" not in captured.err
    assert "validation error" not in captured.err  # pydantic's block
    return captured.err.splitlines()


def test_a_bad_number_names_the_variable_and_what_it_takes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert refused(monkeypatch, capsys, CDS_FHIR_TIMEOUT_S=VALUE) == [
        "calcinosis-cds: invalid setting: CDS_FHIR_TIMEOUT_S: Input should be a valid number, unable to "
        "parse string as a number; expected a number, > 0, <= 60"
    ]


def test_json_that_does_not_parse_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = refused(monkeypatch, capsys, CDS_TRUSTED_ISSUERS='{"https://ehr.example.org/": {jwks_url: x}}')
    assert lines == [
        "calcinosis-cds: invalid setting: CDS_TRUSTED_ISSUERS: not valid JSON (Expecting property name "
        "enclosed in double quotes at line 1, column 31); expected a JSON object of jwks, jwks_url, jku, "
        "tenants, algorithms per key (see the README)"
    ]


def test_each_bad_setting_gets_its_own_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = refused(
        monkeypatch,
        capsys,
        CDS_ENVIRONMENT="prod",
        CDS_SUPPRESSION_DAYS="400",
        CDS_TRUSTED_ISSUERS=json.dumps(
            {"https://ehr.example.org/": {"jwks_url": "http://ehr.example.org/k"}}
        ),
    )
    assert lines == [
        "calcinosis-cds: invalid setting: CDS_ENVIRONMENT: Input should be 'development' or 'production'; "
        "expected one of development, production",
        "calcinosis-cds: invalid setting: CDS_TRUSTED_ISSUERS: key set URLs must be https (or http on "
        "loopback, for tests): http://ehr.example.org/k (at https://ehr.example.org/); expected a JSON "
        "object of jwks, jwks_url, jku, tenants, algorithms per key (see the README)",
        "calcinosis-cds: invalid setting: CDS_SUPPRESSION_DAYS: Input should be less than or equal to 365; "
        "expected a whole number, >= 0, <= 365",
    ]


def test_a_rule_across_settings_is_its_own_message_without_the_values(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = refused(monkeypatch, capsys, CDS_ENVIRONMENT="production", CDS_PATIENT_HASH_KEY=VALUE)
    assert lines == ["calcinosis-cds: invalid setting: CDS_FHIR_SERVER_ALLOWLIST is required in production"]
    assert VALUE not in "\n".join(lines)
