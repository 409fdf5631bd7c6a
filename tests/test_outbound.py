"""The URL normaliser, the allowlist and the same-base guard refuse look-alike and escaping URLs."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.fhir.outbound import (
    Allowlist,
    UnsafeUrlError,
    normalize_base,
    normalize_url,
    remove_dot_segments,
)

ALLOW = Allowlist.from_entries(["https://ehr.example.org/fhir", "http://127.0.0.1:8080/r4/"])

# RFC 3986 § 5.4 reference resolution examples, base "http://a/b/c/d;p?q", reduced to remove_dot_segments:
# a relative reference's input is the merged path (§ 5.2.3: "/b/c/" + reference), an absolute-path
# reference's is the reference itself; the expected output is the path of the RFC's target URI.
RFC_3986_5_4 = [
    ("g", "/b/c/g"),
    ("./g", "/b/c/g"),
    ("g/", "/b/c/g/"),
    (";x", "/b/c/;x"),
    ("g;x", "/b/c/g;x"),
    (".", "/b/c/"),
    ("./", "/b/c/"),
    ("..", "/b/"),
    ("../", "/b/"),
    ("../g", "/b/g"),
    ("../..", "/"),
    ("../../", "/"),
    ("../../g", "/g"),
    # § 5.4.2 abnormal examples
    ("../../../g", "/g"),
    ("../../../../g", "/g"),
    ("/./g", "/g"),
    ("/../g", "/g"),
    ("g.", "/b/c/g."),
    (".g", "/b/c/.g"),
    ("g..", "/b/c/g.."),
    ("..g", "/b/c/..g"),
    ("./../g", "/b/g"),
    ("./g/.", "/b/c/g/"),
    ("g/./h", "/b/c/g/h"),
    ("g/../h", "/b/c/h"),
    ("g;x=1/./y", "/b/c/g;x=1/y"),
    ("g;x=1/../y", "/b/c/y"),
]


@pytest.mark.parametrize(("reference", "path"), RFC_3986_5_4)
def test_remove_dot_segments_rfc_3986_examples(reference: str, path: str) -> None:
    merged = reference if reference.startswith("/") else "/b/c/" + reference
    assert remove_dot_segments(merged) == path
    assert normalize_url("http://a" + merged).path == path


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        # § 5.2.4's own walk-through examples
        ("/a/b/c/./../../g", "/a/g"),
        ("mid/content=5/../6", "mid/6"),
    ],
)
def test_remove_dot_segments_walk_through(given: str, expected: str) -> None:
    assert remove_dot_segments(given) == expected


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("HTTP://EHR.Example.ORG/fhir", "http://ehr.example.org/fhir"),
        ("https://ehr.example.org:443/fhir", "https://ehr.example.org/fhir"),
        ("http://ehr.example.org:80/fhir", "http://ehr.example.org/fhir"),
        ("http://ehr.example.org:/fhir", "http://ehr.example.org/fhir"),
        ("http://ehr.example.org:8080/fhir", "http://ehr.example.org:8080/fhir"),
        ("https://ehr.example.org./fhir", "https://ehr.example.org/fhir"),
        ("https://bücher.example/fhir", "https://xn--bcher-kva.example/fhir"),
        ("https://ehr.example.org", "https://ehr.example.org/"),
        ("http://h/fhir/../admin", "http://h/admin"),
        ("http://h/fhir/%2e%2e/admin", "http://h/admin"),
        ("http://h/fhir/%2E%2E/admin", "http://h/admin"),
        ("http://h/fhir/.%2e/admin", "http://h/admin"),
        ("http://h/fhir/./../admin", "http://h/admin"),
        ("http://h/fhir/%7e%41%2d/x", "http://h/fhir/~A-/x"),
        ("http://h/fhir/%3a%c3%a4", "http://h/fhir/%3A%C3%A4"),
        ("http://h/fhir/ä|", "http://h/fhir/%C3%A4%7C"),
        ("http://h/fhir/Observation?code=a|b,c&x=%2e%7e", "http://h/fhir/Observation?code=a%7Cb,c&x=.~"),
        ("http://h/fhir/Observation?", "http://h/fhir/Observation?"),
        ("http://[::1]:8080/fhir", "http://[::1]:8080/fhir"),
    ],
)
def test_normal_form(url: str, normal: str) -> None:
    assert str(normalize_url(url)) == normal
    assert str(normalize_url(normal)) == normal  # idempotent


@pytest.mark.parametrize(
    "url",
    [
        "ftp://h/fhir",
        "file:///etc/passwd",
        "/fhir/Patient/1",
        "http:/h/fhir",
        "http:///fhir",
        "https://u@h/fhir",
        "https://u:p@h/fhir",
        "https://ehr.example.org@evil.test/fhir",
        "http://h/fhir#frag",
        "http://h/fhir#",
        "http://h/fhir/a%2fb",
        "http://h/fhir/a%2F..%2Fadmin",
        "http://h/fhir/%5c..%5cadmin",
        "http://h/fhir\\..\\admin",
        "http://h/fhir/%252e%252e/admin",
        "http://h/fhir/%zz",
        "http://h/fhir/%4",
        "http://h/fhir/..;/admin",
        "http://h/fhir/.;x/Patient",
        "http://h/fh ir",
        "http://h/fhir\t/x",
        "http://h/fhir\n",
        "http://h:0/fhir",
        "http://h:99999/fhir",
        "http://h:8o/fhir",
        "http://h:²/fhir",
        "http://[::1/fhir",
        "http://h%2e/fhir",
        "http://./fhir",
    ],
)
def test_refused_urls(url: str) -> None:
    with pytest.raises(UnsafeUrlError, match=r".+"):
        normalize_url(url)


@pytest.mark.parametrize("url", ["http://h/fhir?x=1", "http://h/fhir?"])
def test_a_base_has_no_query(url: str) -> None:
    with pytest.raises(UnsafeUrlError, match="query"):
        normalize_base(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://h/fhir/Observation?patient=p1&code=http://loinc.org|17861-6,x&_count=1000",
        "https://EHR.example.org:443/fhir/%2e/Patient/a%3Ab?x=%c3%a4%20y",
        'http://h/fhir/ä/Patient?q=ü[x]{}^`"<>',
        "http://h/fhir/%7Efoo/Patient/1",
    ],
)
def test_what_is_checked_is_what_is_sent(url: str) -> None:
    """httpx sends the normal form unchanged: the URL compared is, byte for byte, the URL requested."""
    normal = str(normalize_url(url))
    assert str(httpx.URL(normal)) == normal


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://ehr.example.org/fhir", True),
        ("https://ehr.example.org/fhir/", True),
        ("https://ehr.example.org/fhir/Patient/1", True),
        ("https://EHR.example.org:443/fhir/Patient/1", True),
        ("https://ehr.example.org./fhir/Patient", True),
        ("https://ehr.example.org/fhi%72/Patient", True),
        ("https://ehr.example.org/fhirx", False),
        ("https://ehr.example.org/", False),
        ("https://ehr.example.org/fhir/../admin", False),
        ("https://ehr.example.org/fhir/%2e%2e/admin", False),
        ("https://ehr.example.org/fhir/./../admin", False),
        ("https://ehr.example.org/fhir/Patient/../../admin", False),
        ("https://ehr.example.org/other/../fhir/Patient", True),
        ("http://ehr.example.org/fhir", False),
        ("https://ehr.example.org:8443/fhir", False),
        ("https://ehr.example.org.evil.test/fhir", False),
        ("http://127.0.0.1:8080/r4/Observation", True),
        ("http://127.0.0.1:8081/r4", False),
    ],
)
def test_allowlist(url: str, allowed: bool) -> None:
    assert ALLOW.allows(normalize_url(url)) is allowed


def test_empty_allowlist_allows_any_http_url() -> None:
    assert Allowlist.from_entries([]).allows(normalize_base("http://10.1.2.3/fhir"))


@pytest.mark.parametrize(
    "entry", ["ftp://x/fhir", "https://u:p@x/fhir", "https://x/fhir?q=1", "https:///fhir", "https://x/a%2fb"]
)
def test_bad_allowlist_entries_are_refused(entry: str) -> None:
    with pytest.raises(ValueError, match=r".+"):
        Allowlist.from_entries([entry])


@pytest.mark.parametrize(
    ("url", "inside"),
    [
        ("http://h:1/fhir/Observation?page=2", True),
        ("http://h:1/fhir", True),
        ("http://h:1/fhirother/Observation", False),
        ("http://h:1/fhir/../other/Observation", False),
        ("http://h:1/fhir/%2E%2E/other", False),
        ("http://other:1/fhir/Observation", False),
        ("https://h:1/fhir/Observation", False),
    ],
)
def test_same_base_guard_compares_segments(url: str, inside: bool) -> None:
    assert normalize_base("http://h:1/fhir/").contains(normalize_url(url)) is inside


@settings(max_examples=2000, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("htps:/.@?#%2eEfF5cC;[]\\ \tä\ud800ü|~AB0189")), max_size=40).map(
        lambda tail: "http://h" + tail
    )
    | st.text(max_size=60)
)
def test_any_text_is_refused_or_normal(url: str) -> None:
    """Whatever a request or a FHIR server sends, the normaliser refuses it or returns a stable normal form
    that httpx sends unchanged; it never fails any other way."""
    try:
        normal = normalize_url(url)
    except UnsafeUrlError:
        return
    text = str(normal)
    assert str(normalize_url(text)) == text
    assert str(httpx.URL(text)) == text
    assert ".." not in normal.segments
