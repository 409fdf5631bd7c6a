"""The official CDS Hooks sandbox as a test client: its production build served from loopback, opened in
Debian's chromium under Playwright, driven by URL parameters (sandbox-build/README.md in the shared folder).

Nothing here reaches the network: chromium resolves no host name (``--host-resolver-rules``), so the
sandbox's own default service (``sandbox-services.cds-hooks.org``) simply fails to load, and every call
goes to the loopback servers of the test.
"""

from __future__ import annotations

import functools
import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CDS_SHARED_DIR", ROOT.parent / "shared"))
SANDBOX_BUILD = SHARED / "cds-hooks" / "sandbox-build"
SANDBOX_ISSUER = "https://sandbox.cds-hooks.org"
SANDBOX_JKU = f"{SANDBOX_ISSUER}/.well-known/jwks.json"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # only our loopback servers connect
]
TIMEOUT_MS = 60_000  # the 5 MB bundle on a loaded 2-core machine
CARD = "div[class*='card-list__decision-card']"
INDICATOR = re.compile(r"card-list__alert-(info|warning|critical)_")
ALL_CLEAR = "All clear!"
MEDICATION_INPUT = "input[name='medication-input']"
SIGN_ORDER = "Sign Order"


def service_for(hook: str) -> str:
    """The id of our one service on ``hook``, from the discovery data (cards/data/service.json)."""
    services = json.loads((ROOT / "cards" / "data" / "service.json").read_text(encoding="utf-8"))["services"]
    (service_id,) = [service["id"] for service in services if service["hook"] == hook]
    return str(service_id)


@dataclass(frozen=True)
class Screen:
    """A tab of the sandbox (its ``screen`` URL parameter), the hook it sends and our service on that hook;
    ``on_load``: whether it calls as soon as the patient and the services are loaded."""

    hook: str
    screen: str
    on_load: bool

    @property
    def service_id(self) -> str:
        return service_for(self.hook)


PATIENT_VIEW = Screen("patient-view", "patient-view", on_load=True)
RX_VIEW = Screen("order-select", "rx-view", on_load=True)  # and again on each change of the draft
RX_SIGN = Screen("order-sign", "rx-sign", on_load=False)  # only when "Sign Order" is pressed


def sandbox_key_set() -> dict[str, Any]:
    """The public key set the sandbox build publishes for its own signing key."""
    keys: dict[str, Any] = json.loads(
        (SANDBOX_BUILD / ".well-known" / "jwks.json").read_text(encoding="utf-8")
    )
    return keys


def rule_by_source_label() -> dict[str, str]:
    """Card source label ("calcinosis-cds: dystrophic calcinosis v0.1.0") -> rule id, from the rule data."""
    labels = {}
    for path in sorted((ROOT / "cards" / "data").glob("*.json")):
        rule = json.loads(path.read_text(encoding="utf-8")).get("rule")
        if isinstance(rule, dict) and "label" in rule:
            labels[f"{rule['label']} v{rule['version']}"] = rule["id"]
    return labels


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log on the test's stderr."""


@contextmanager
def static_site(folder: Path) -> Iterator[str]:
    """``folder`` served over HTTP on a free loopback port; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass(frozen=True)
class RenderedCard:
    rule: str
    indicator: str
    summary: str


@dataclass(frozen=True)
class Visit:
    """One patient view: the page, the hook request the sandbox sent and the service's answer."""

    page: Any
    request: dict[str, Any]
    answer: dict[str, Any]


@dataclass(frozen=True)
class Sandbox:
    """Where the pieces are: the sandbox site, the FHIR server it reads, and our service."""

    site: str
    fhir_base: str
    service_url: str

    @property
    def hook_url(self) -> str:
        return self.hook_url_of(PATIENT_VIEW)

    def hook_url_of(self, screen: Screen) -> str:
        return f"{self.service_url}/cds-services/{screen.service_id}"

    @property
    def feedback_url(self) -> str:
        return f"{self.hook_url}/feedback"

    def url_for(self, patient_id: str, screen: Screen = PATIENT_VIEW) -> str:
        """The page for ``patient_id`` on ``screen``; the tab is always named, because the sandbox would
        otherwise reopen the one it last showed (kept in localStorage)."""
        query = urlencode(
            {
                "fhirServiceUrl": self.fhir_base,
                "patientId": patient_id,
                "serviceDiscoveryURL": f"{self.service_url}/cds-services",
                "hook": screen.hook,
                "screen": screen.screen,
            }
        )
        return f"{self.site}/index.html?{query}"

    def _open(self, context: Any, viewport: dict[str, int] | None) -> Any:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        if viewport is not None:
            page.set_viewport_size(viewport)
        return page

    @contextmanager
    def visit(self, context: Any, patient_id: str, viewport: dict[str, int] | None = None) -> Iterator[Visit]:
        """Open the patient view in a new page (of ``viewport`` size if given), and wait until the cards
        (or "All clear!") are drawn."""
        page = self._open(context, viewport)
        try:
            with page.expect_response(
                lambda r: r.url == self.hook_url and r.request.method == "POST", timeout=TIMEOUT_MS
            ) as answer:
                page.goto(self.url_for(patient_id))
            yield drawn(page, answer.value)
        finally:
            page.close()

    @contextmanager
    def order(self, context: Any, patient_id: str, screen: Screen, search: str, pick: str) -> Iterator[Visit]:
        """Prescribe on an ordering tab as a user does: type ``search`` into the sandbox's medication picker,
        click the drug named ``pick`` among the RxNorm drugs it offers and, on Rx Sign, press "Sign Order";
        then wait until the cards for that draft are drawn. A call before the pick (Rx View sends one for the
        empty draft as the patient loads) is not the visit's, but must answer 200 too."""
        page = self._open(context, None)
        hook_url = self.hook_url_of(screen)
        statuses: list[int] = []
        page.on("response", lambda r: statuses.append(r.status) if r.url == hook_url else None)

        def for_the_pick(response: Any) -> bool:
            return (
                response.url == hook_url
                and response.request.method == "POST"
                and pick in (response.request.post_data or "")
            )

        try:
            if screen.on_load:  # its answer must come before the pick's: the sandbox shows the last to come
                with page.expect_response(lambda r: r.url == hook_url and r.request.method == "POST"):
                    page.goto(self.url_for(patient_id, screen))
            else:
                page.goto(self.url_for(patient_id, screen))
            page.get_by_text(f"ID: {patient_id}").first.wait_for()  # the patient is loaded
            page.get_by_text(hook_url).first.wait_for()  # the developer panel shows it once discovery is read
            page.locator(MEDICATION_INPUT).fill(search)
            with page.expect_response(for_the_pick, timeout=TIMEOUT_MS) as answer:
                page.get_by_text(pick, exact=True).click()
                if screen == RX_SIGN:
                    page.get_by_role("button", name=SIGN_ORDER).click()
            visit = drawn(page, answer.value)
            assert set(statuses) == {200}, f"{screen.hook} calls answered {statuses}"
            yield visit
        finally:
            page.close()

    def feedback_after(self, page: Any, action: Any) -> dict[str, Any]:
        """Run ``action`` (a click) and return our answer to the feedback the sandbox sent for it."""
        with page.expect_response(
            lambda r: r.url == self.feedback_url and r.request.method == "POST", timeout=TIMEOUT_MS
        ) as answer:
            action()
        response = answer.value
        assert response.status == 200, f"feedback answered {response.status}: {response.text()}"
        sent: dict[str, Any] = response.request.post_data_json
        return {"sent": sent, "answer": response.json()}


def drawn(page: Any, response: Any) -> Visit:
    """The visit once the sandbox has drawn the cards of ``response`` (or "All clear!" for none)."""
    assert response.status == 200, f"the hook answered {response.status}: {response.text()}"
    visit = Visit(page, response.request.post_data_json, response.json())
    if visit.answer["cards"]:
        page.locator(CARD).nth(len(visit.answer["cards"]) - 1).wait_for()
    else:
        page.get_by_text(ALL_CLEAR).wait_for()
    return visit


def rendered_cards(page: Any, rules: dict[str, str]) -> list[RenderedCard]:
    """The cards as the sandbox drew them: rule (from the source label), indicator (from the card's alert
    class) and summary, top to bottom."""
    cards = []
    for card in page.locator(CARD).all():
        indicator = INDICATOR.search(card.get_attribute("class") or "")
        label = card.locator("[class*='card-list__card-source'] a").inner_text().strip()
        summary = card.locator("p").first.inner_text().strip()
        cards.append(
            RenderedCard(
                rules.get(label, f"unknown label {label!r}"), indicator[1] if indicator else "-", summary
            )
        )
    return cards
