"""The card preview page (``/preview``, development only): its API over real HTTP, the page in a real browser.

The app is the real ``create_app`` under uvicorn (``tests.servers.RunningService``).

The browser is Debian's ``chromium`` (``/usr/bin/chromium``) driven by Playwright's Python package; its own
browser download is never used. A missing browser or package FAILS these tests: CI installs both.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from service.api.hooks import hook_call
from service.api.preview import PREVIEW_CSP, PREVIEW_USER
from service.demo import bundle, demo_patients, prefetch
from service.settings import Settings
from tests.servers import RunningService
from tests.settings_data import production_settings
from tests.test_preview_suppression import issued_card, override

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / "docs" / "preview.png"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CATALOG = {p.id: p for p in demo_patients()}
CREST, CALCIPHYLAXIS = CATALOG["demo-crest"], CATALOG["demo-calciphylaxis"]
KNOWN_CALCINOSIS = CATALOG["demo-known-calcinosis"]  # overridden in one test: no other test calls its hook
TIMEOUT_MS = 15_000
# The service's clock (and so the demo data's dates) for this module: today at noon, so that a hook call
# and a preview seconds apart never straddle midnight (card evidence is dated by day).
NOON = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("preview") / "cds.db"


@pytest.fixture(scope="module")
def preview_service(database: Path) -> Iterator[RunningService]:
    """The development service with the preview page, one per module."""
    with RunningService(Settings(database_url=f"sqlite:///{database}"), lambda: NOON) as running:
        yield running


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as c:
        yield c


def rules_and_indicators(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(card["source"]["topic"]["code"], card["indicator"]) for card in body["cards"]]


# --- the API, over real HTTP ---------------------------------------------------------------------------


def test_patients_list_is_the_catalog(preview_service: RunningService, client: httpx.Client) -> None:
    response = client.get(f"{preview_service.url}/preview/api/patients")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == [
        {"id": p.id, "title": p.title, "description": p.description} for p in demo_patients()
    ]


@pytest.mark.parametrize("patient", demo_patients(), ids=lambda p: p.id)
def test_each_demo_patient_gets_the_cards_its_catalog_entry_promises(
    preview_service: RunningService, client: httpx.Client, patient: Any
) -> None:
    """Issue 7 item 1: each demo patient documents what card it should produce; this checks that it does."""
    response = client.post(f"{preview_service.url}/preview/api/cards/{patient.id}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"cards", "heldBack", "suppression"}  # the hook's answer, and what it would hold back
    assert (body["heldBack"], body["suppression"]) == ([], "checked")
    assert rules_and_indicators(body) == list(patient.expected_cards), patient.title


def test_cards_are_the_hooks_own_answer(
    preview_service: RunningService, client: httpx.Client, database: Path
) -> None:
    """The same cards as the real hook gives for the same request (uuids aside); but only the hook's go to
    the card history (and so to the report) and the card metrics, never the preview's (issue 14)."""
    counted_before = cards_counted(client, preview_service)
    previewed = client.post(f"{preview_service.url}/preview/api/cards/{CALCIPHYLAXIS.id}").json()
    assert cards_counted(client, preview_service) == counted_before
    request = hook_call(
        "patient-view", CALCIPHYLAXIS.id, user=PREVIEW_USER, prefetch=prefetch(bundle(CALCIPHYLAXIS.id, NOON))
    )
    hooked = client.post(
        f"{preview_service.url}/cds-services/calcinosis-cutis-risk",
        content=orjson.dumps(request),
        headers={"Content-Type": "application/json"},
    ).json()

    def without_uuids(body: dict[str, Any]) -> list[dict[str, Any]]:
        cards = orjson.loads(orjson.dumps(body["cards"]))
        for card in cards:
            card.pop("uuid")
            for suggestion in card.get("suggestions", []):
                suggestion.pop("uuid")
        return list(cards)

    assert without_uuids(previewed) == without_uuids(hooked)
    assert cards_counted(client, preview_service) == counted_before + len(hooked["cards"])
    issued = {card["uuid"] for card in hooked["cards"]}
    deadline = time.monotonic() + 10
    while True:  # the history is written after the response
        with sqlite3.connect(database) as db:
            stored = {row[0] for row in db.execute("SELECT card_uuid FROM card_history")}
        if issued <= stored or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert issued <= stored
    assert not {card["uuid"] for card in previewed["cards"]} & stored


def cards_counted(client: httpx.Client, service: RunningService) -> float:
    """The sum of ``cds_cards_total`` over its labels."""
    metrics = client.get(f"{service.url}/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith("cds_cards_total{")
    )


def test_unknown_patient_is_a_404_operation_outcome(
    preview_service: RunningService, client: httpx.Client
) -> None:
    response = client.post(f"{preview_service.url}/preview/api/cards/no-such-patient")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/fhir+json"
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["details"]["coding"][0]["code"] == "http.not-found"
    assert "no-such-patient" in outcome["issue"][0]["details"]["text"]


def test_page_and_assets_carry_the_preview_security_headers(
    preview_service: RunningService, client: httpx.Client
) -> None:
    page = client.get(f"{preview_service.url}/preview")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers.get_list("content-security-policy") == [PREVIEW_CSP]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert "//" not in page.text  # no URL of another origin: everything is served from here
    for name, media_type in [("preview.js", "text/javascript"), ("preview.css", "text/css")]:
        asset = client.get(f"{preview_service.url}/preview/assets/{name}")
        assert asset.status_code == 200
        assert asset.headers["content-type"].startswith(media_type)
        assert asset.headers["x-content-type-options"] == "nosniff"
    assert client.get(f"{preview_service.url}/preview/assets/..%2Fpreview.py").status_code == 404
    assert client.get(f"{preview_service.url}/preview/assets/nothing.js").status_code == 404


def test_preview_is_not_in_the_openapi_document(
    preview_service: RunningService, client: httpx.Client
) -> None:
    paths = client.get(f"{preview_service.url}/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith("/preview")]


def test_production_has_no_preview(tmp_path: Path, client: httpx.Client) -> None:
    settings = production_settings(
        database_url=f"sqlite:///{tmp_path / 'cds.db'}", database_auto_migrate=True
    )
    with RunningService(settings) as running:
        assert client.get(f"{running.url}/healthz").status_code == 200
        for method, path in [
            ("GET", "/preview"),
            ("GET", "/preview/assets/preview.js"),
            ("GET", "/preview/api/patients"),
            ("POST", f"/preview/api/cards/{CREST.id}"),
        ]:
            response = client.request(method, f"{running.url}{path}")
            assert response.status_code == 404, (method, path)
            assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "http.not-found"


# --- the page, in a real browser -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium under Playwright; FAILS (never skips) when either is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "the Playwright Python package is missing: .venv/bin/pip install playwright "
            "(never 'playwright install': the browser is Debian's chromium)",
            pytrace=False,
        )
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (Debian's package)", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, preview_service: RunningService) -> Iterator[Any]:
    """A fresh page on /preview; fails the test on any script error or console error (e.g. a CSP refusal)."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=preview_service.url)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    tab.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)
    tab.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    tab.goto("/preview")
    tab.wait_for_selector("body[data-ready='true']")
    yield tab
    context.close()
    assert not problems, problems


def pick(page: Any, patient_id: str, cards: int) -> Any:
    """Choose a patient in the picker and wait for its ``cards`` cards; returns the panel."""
    page.get_by_label("Open the chart of").select_option(patient_id)
    panel = page.get_by_role("region", name="CDS cards")
    expected = "1 card" if cards == 1 else f"{cards} cards"
    panel.get_by_role("status").filter(has_text=expected).wait_for()
    assert panel.locator("article.card").count() == cards
    return panel


def test_the_page_shows_the_cards_of_the_picked_patient(page: Any, tmp_path: Path) -> None:
    options = page.locator("#patient option").all_inner_texts()
    assert options[1:] == [p.title for p in demo_patients()]

    panel = pick(page, CREST.id, cards=1)
    card = panel.locator("article.card")
    assert card.get_attribute("class") == "card indicator-info"
    summary = card.locator(".card-summary")
    assert summary.inner_text().startswith("Limited cutaneous SSc / CREST: watch for calcinosis cutis")
    assert summary.evaluate("e => Number(getComputedStyle(e).fontWeight)") >= 700
    table = card.locator(".card-detail table")
    assert table.count() == 1
    assert table.locator("th").all_inner_texts() == ["Test", "Result", "Date", "Note"]
    assert "CR(E)ST syndrome" in table.locator("tbody").inner_text()
    assert card.locator(".card-links a").count() >= 1  # references are links, not text in the detail
    assert card.locator(".card-detail p").count() >= 2  # the reasons, as markdown paragraphs
    for link in card.locator(".card-links a").all():
        assert link.get_attribute("href").startswith("https://")
        assert link.get_attribute("target") == "_blank"
        assert "noopener" in link.get_attribute("rel")
    assert card.locator(".card-source a").inner_text().startswith("calcinosis-cds: dystrophic calcinosis")
    dismiss = card.get_by_label("Dismiss with reason")
    assert dismiss.locator("option").all_inner_texts()[1] == "Already addressed"

    panel = pick(page, CALCIPHYLAXIS.id, cards=len(CALCIPHYLAXIS.expected_cards))
    classes = panel.locator("article.card").evaluate_all("cards => cards.map(c => c.className)")
    assert classes == [f"card indicator-{indicator}" for _, indicator in CALCIPHYLAXIS.expected_cards]
    badges = panel.locator("article.card .badge").all_inner_texts()
    assert [b.lower() for b in badges] == [indicator for _, indicator in CALCIPHYLAXIS.expected_cards]
    colours = panel.locator("article.card").evaluate_all(
        "cards => cards.map(c => getComputedStyle(c).borderLeftColor)"
    )
    assert colours == ["rgb(184, 110, 0)"] * len(CALCIPHYLAXIS.expected_cards)  # amber for warning
    assert page.url.endswith(f"#{CALCIPHYLAXIS.id}")

    artifact = tmp_path / "preview.png"
    page.screenshot(path=str(artifact), full_page=True)
    assert artifact.stat().st_size > 10_000
    if os.environ.get("UPDATE_SCREENSHOT"):  # refresh the README's picture on purpose, never as a side effect
        page.screenshot(path=str(SCREENSHOT), clip={"x": 0, "y": 0, "width": 1280, "height": 1400})


def test_suggestions_and_dismissal_stay_in_the_page(page: Any) -> None:
    panel = pick(page, "demo-juvenile-dm", cards=1)
    card = panel.locator("article.card")
    suggestions = card.locator(".suggestions input[type=checkbox]")  # selectionBehavior "any"
    assert suggestions.count() == 2
    assert card.locator(".suggestions label").first.inner_text().startswith("Order: ")
    for box in suggestions.all():
        box.check()
    card.get_by_role("button", name="Accept selected").click()
    assert "2 suggestion(s) would be accepted; nothing is ordered or sent" in card.inner_text()
    button = card.get_by_role("button", name="Dismiss")
    assert button.is_disabled()
    card.get_by_label("Dismiss with reason").select_option(label="Patient declined")
    button.click()
    assert "Dismissed (Patient declined)" in card.inner_text()


def test_a_held_back_card_is_marked_with_its_override(
    page: Any, preview_service: RunningService, client: httpx.Client, database: Path
) -> None:
    """Issue 13: an EHR would show no card now (overridden with a reason); the page still shows the card,
    marked, says why and until when, and does not say "nothing to say"."""
    database_url = f"sqlite:///{database}"
    card = issued_card(client, preview_service.url, database_url, KNOWN_CALCINOSIS.id, NOON)
    overridden_on = NOON - timedelta(days=3)
    override(client, preview_service.url, card, overridden_on, code="patient-declined")

    panel = pick(page, KNOWN_CALCINOSIS.id, cards=1)
    assert panel.get_by_role("status").inner_text() == "1 card, 1 held back from the EHR"
    rendered = panel.locator("article.card")
    assert rendered.get_attribute("class") == "card indicator-info is-held-back"
    marker = rendered.get_by_role("note")
    assert marker.locator(".held-back-title").inner_text() == "Held back: an EHR would not see this card now"
    until = overridden_on + timedelta(days=30)  # the default window
    assert (
        f"Overridden {overridden_on:%Y-%m-%d %H:%M} UTC (Patient declined); held back until "
        f"{until:%Y-%m-%d %H:%M} UTC." in marker.inner_text()
    )
    assert "more severe card or new evidence" in marker.inner_text()
    assert panel.locator(".suppression-note").inner_text().startswith("An EHR would show no card now")
    assert panel.locator(".no-cards").count() == 0
    assert rendered.locator(".card-summary").is_visible()  # the card itself is still there to read

    pick(page, CREST.id, cards=1)  # no override: no marker, no note
    assert panel.locator(".held-back, .suppression-note").count() == 0


def test_an_unknown_suppression_state_is_said(page: Any) -> None:
    """The card history did not answer (``suppression: unavailable``): the cards are shown, unmarked, and
    the page says it cannot tell which an EHR would see."""
    answer = {"cards": [{"uuid": "0", "summary": "A card", "indicator": "warning", "source": {"label": "x"}}]}
    page.route(
        f"**/preview/api/cards/{CREST.id}",
        lambda route: route.fulfill(
            status=200,
            content_type="application/json",
            body=orjson.dumps({**answer, "heldBack": [], "suppression": "unavailable"}),
        ),
    )
    panel = pick(page, CREST.id, cards=1)
    assert panel.locator(".suppression-note").inner_text() == (
        "Whether an EHR would see these cards now is unknown: the card history did not answer."
    )
    assert panel.locator(".held-back").count() == 0
    assert panel.get_by_role("status").inner_text() == "1 card"


def test_a_patient_without_cards_says_so(page: Any) -> None:
    page.get_by_label("Open the chart of").select_option("demo-healthy")
    panel = page.get_by_role("region", name="CDS cards")
    panel.locator(".no-cards").wait_for()
    assert panel.locator("article.card").count() == 0
    assert panel.get_by_role("status").inner_text() == "0 cards"


def test_the_markdown_renderer(page: Any) -> None:
    markdown = "\n".join(
        [
            "First **bold** and _italic_ words,",
            "same paragraph; snake_case_stays.",
            "",
            "- one",
            "- two **b**",
            "",
            "1. first",
            "2. second",
            "",
            "| A | B |",
            "|---|---|",
            "| x \\| y | _z_ |",
        ]
    )
    assert page.evaluate("m => renderMarkdown(m)", markdown) == "\n".join(
        [
            "<p>First <strong>bold</strong> and <em>italic</em> words, same paragraph; snake_case_stays.</p>",
            "<ul><li>one</li><li>two <strong>b</strong></li></ul>",
            "<ol><li>first</li><li>second</li></ol>",
            '<div class="table-wrap"><table><thead><tr><th>A</th><th>B</th></tr></thead>'
            '<tbody><tr><td data-label="A">x | y</td><td data-label="B"><em>z</em></td></tr>'
            "</tbody></table></div>",
        ]
    )


@pytest.mark.parametrize(
    ("markdown", "html"),
    [
        ("<img src=x onerror=alert(1)>", "<p>&lt;img src=x onerror=alert(1)&gt;</p>"),
        ("**<script>alert(1)</script>**", "<p><strong>&lt;script&gt;alert(1)&lt;/script&gt;</strong></p>"),
        (
            '- <a href="javascript:alert(1)">x</a>',
            "<ul><li>&lt;a href=&quot;javascript:alert(1)&quot;&gt;x&lt;/a&gt;</li></ul>",
        ),
        (
            "| <b onmouseover='x'> |\n|---|\n| & |",
            '<div class="table-wrap"><table><thead><tr>'
            "<th>&lt;b onmouseover=&#39;x&#39;&gt;</th></tr></thead>"
            '<tbody><tr><td data-label="&lt;b onmouseover=&#39;x&#39;&gt;">&amp;</td></tr>'
            "</tbody></table></div>",
        ),
    ],
    ids=["img-onerror", "script-in-bold", "link-in-list", "attribute-in-table"],
)
def test_the_markdown_renderer_escapes_html(page: Any, markdown: str, html: str) -> None:
    assert page.evaluate("m => renderMarkdown(m)", markdown) == html


def test_card_text_is_never_html(page: Any) -> None:
    """A hostile card (detail, summary, labels, a javascript: link) is shown as text; nothing runs."""
    hostile = "<img src=x onerror=alert(1)>"
    card = {
        "uuid": "0",
        "summary": f"Summary {hostile}",
        "indicator": "critical",
        "detail": f"Detail {hostile}\n\n- item {hostile}\n\n| h |\n|---|\n| {hostile} |",
        "source": {"label": f"Source {hostile}", "url": "javascript:alert(1)"},
        "links": [{"label": f"Link {hostile}", "url": "javascript:alert(1)", "type": "absolute"}],
        "suggestions": [{"label": f"Suggestion {hostile}", "uuid": "1"}],
        "overrideReasons": [{"code": "x", "display": f"Reason {hostile}"}],
    }
    page.route(
        f"**/preview/api/cards/{CREST.id}",
        lambda route: route.fulfill(
            status=200, content_type="application/json", body=orjson.dumps({"cards": [card]})
        ),
    )
    panel = pick(page, CREST.id, cards=1)
    rendered = panel.locator("article.card")
    assert rendered.get_attribute("class") == "card indicator-critical"
    assert panel.locator("img, script, b").count() == 0
    assert panel.locator("a").count() == 0  # javascript: URLs are not links
    text = rendered.inner_text()
    for label in ["Summary", "Detail", "item", "Source", "Link", "Suggestion"]:
        assert f"{label} {hostile}" in text
    assert rendered.locator("td").inner_text() == hostile
    assert (
        rendered.get_by_label("Dismiss with reason").locator("option").all_inner_texts()[1]
        == f"Reason {hostile}"
    )
    page.wait_for_timeout(200)  # an onerror handler would have fired by now (the page fixture checks dialogs)
