"""The allowlist and same-base guard refuse look-alike URLs."""

from __future__ import annotations

import pytest

from service.outbound import Allowlist, is_within

ALLOW = Allowlist.from_entries(["https://ehr.example.org/fhir", "http://127.0.0.1:8080/r4/"])


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://ehr.example.org/fhir", True),
        ("https://ehr.example.org/fhir/", True),
        ("https://ehr.example.org/fhir/Patient/1", True),
        ("https://EHR.example.org:443/fhir/Patient/1", True),
        ("https://ehr.example.org/fhirx", False),
        ("https://ehr.example.org/", False),
        ("http://ehr.example.org/fhir", False),
        ("https://ehr.example.org:8443/fhir", False),
        ("https://ehr.example.org.evil.test/fhir", False),
        ("https://ehr.example.org@evil.test/fhir", False),
        ("https://user:pw@ehr.example.org/fhir", False),
        ("ftp://ehr.example.org/fhir", False),
        ("/fhir/Patient/1", False),
        ("http://127.0.0.1:8080/r4/Observation?x=1", True),
        ("http://127.0.0.1:8081/r4", False),
    ],
)
def test_allowlist(url: str, allowed: bool) -> None:
    assert ALLOW.allows(url) is allowed


def test_empty_allowlist_allows_any_http_url_only() -> None:
    anything = Allowlist.from_entries([])
    assert anything.allows("http://10.1.2.3/fhir")
    assert not anything.allows("file:///etc/passwd")
    assert not anything.allows("https://u@h/x")


@pytest.mark.parametrize(
    "entry", ["ftp://x/fhir", "https://u:p@x/fhir", "https://x/fhir?q=1", "https:///fhir"]
)
def test_bad_allowlist_entries_are_refused(entry: str) -> None:
    with pytest.raises(ValueError, match=r".+"):
        Allowlist.from_entries([entry])


@pytest.mark.parametrize(
    ("url", "inside"),
    [
        ("http://h:1/fhir/Observation?page=2", True),
        ("http://h:1/fhirother/Observation", False),
        ("http://other:1/fhir/Observation", False),
        ("https://h:1/fhir/Observation", False),
    ],
)
def test_is_within(url: str, inside: bool) -> None:
    assert is_within(url, "http://h:1/fhir") is inside
