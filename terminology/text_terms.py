"""Text terms: how a medication or route named only in words (``CodeableConcept.text``, a display) is
matched to a concept (``data/medication_text.json``): case-insensitive, word-bounded include terms minus
exclude terms, compiled once; local routes and injectable dose forms are matchers of their own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

LOCAL_ROUTE = "local-route"  # text matcher for topical/inhaled/... routes and dose forms
PARENTERAL_FORM = "parenteral-dose-form"  # text matcher for injectable dose forms ("Injectable Solution")
TEXT_MEMO_SIZE = 4096  # distinct medication and route texts remembered (a few hundred kB at most)


@dataclass(frozen=True, slots=True)
class TextMatcher:
    """Case-insensitive, word-bounded include terms minus exclude terms, compiled once."""

    include: re.Pattern[str]
    exclude: re.Pattern[str] | None

    def matches(self, text: str) -> bool:
        """Whether one text (a display or CodeableConcept.text) names the concept (medication_text.json)."""
        text = " ".join(text.split())
        return bool(self.include.search(text)) and not (self.exclude and self.exclude.search(text))


def _terms(terms: list[str]) -> re.Pattern[str] | None:
    if not terms:
        return None
    alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE)


def memoised_text_concepts(matchers: dict[str, TextMatcher]) -> Callable[[str], frozenset[str]]:
    @lru_cache(maxsize=TEXT_MEMO_SIZE)  # bounded: texts come from requests
    def text_concepts(text: str) -> frozenset[str]:
        return frozenset(concept for concept, matcher in matchers.items() if matcher.matches(text))

    return text_concepts


def text_matchers(raw: dict[str, Any], urls: dict[str, str]) -> dict[str, TextMatcher]:
    by_url = {url: concept for concept, url in urls.items()}
    matchers = {}
    for section in ("valueSets", "routes"):
        for url, spec in raw.get(section, {}).items():
            include = _terms(spec.get("include", []))
            if url not in by_url or include is None:
                raise ValueError(f"text terms for unknown or empty value set {url}")
            matchers[by_url[url]] = TextMatcher(include, _terms(spec.get("exclude", [])))
    local = _terms(raw["localRoutes"]["include"])
    if local is None:
        raise ValueError("localRoutes needs include terms")
    matchers[LOCAL_ROUTE] = TextMatcher(local, None)
    parenteral = raw["doseForms"]["parenteral"]
    include = _terms(parenteral["include"])
    if include is None:
        raise ValueError("doseForms.parenteral needs include terms")
    matchers[PARENTERAL_FORM] = TextMatcher(include, _terms(parenteral.get("exclude", [])))
    return matchers


def injectable_means_intravenous(raw: dict[str, Any], urls: dict[str, str]) -> frozenset[str]:
    """Concepts (by id) named in doseForms.parenteral.impliesIntravenousFor; an unknown URL stops start-up."""
    by_url = {url: concept for concept, url in urls.items()}
    wanted = raw["doseForms"]["parenteral"]["impliesIntravenousFor"]
    unknown = [url for url in wanted if url not in by_url]
    if unknown:
        raise ValueError(f"doseForms.parenteral names unknown value sets {unknown}")
    return frozenset(by_url[url] for url in wanted)
