"""The registry of CDS services, and the discovery document generated from it (§ Discovery).

Each service is declared once (``cards.catalog``); the discovery JSON is built from the declarations at
start-up and served as is. Keyed by service id, never by hook, so two services on one hook cannot collide.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cards.catalog import ServiceDeclaration
from service.api.wire import DiscoveryResponse, PatientViewContext, ServiceDescription
from service.fhir.prefetch import USER_TOKENS, tokens_of

# Tokens a template may use: the hook's context fields and the spec's user tokens.
_CONTEXT_TOKENS = {f"context.{name}" for name in PatientViewContext.model_fields}
ALLOWED_TOKENS = frozenset(_CONTEXT_TOKENS | set(USER_TOKENS.values()))


class Registry:
    """Declared services by id, checked once."""

    def __init__(self, declarations: Iterable[ServiceDeclaration]) -> None:
        self._services: dict[str, ServiceDeclaration] = {}
        for declaration in declarations:
            if declaration.id in self._services:
                raise ValueError(f"service id {declaration.id!r} is declared twice")
            for key, template in declaration.prefetch.items():
                unknown = tokens_of(template) - ALLOWED_TOKENS
                if unknown:
                    raise ValueError(f"prefetch {declaration.id}.{key} uses unknown tokens {sorted(unknown)}")
            self._services[declaration.id] = declaration
        self.discovery: dict[str, Any] = DiscoveryResponse(
            services=[
                ServiceDescription(
                    hook=d.hook,
                    title=d.title,
                    description=d.description,
                    id=d.id,
                    prefetch=dict(d.prefetch),
                    usageRequirements=d.usage_requirements,
                )
                for d in self._services.values()
            ]
        ).to_wire()

    @property
    def ids(self) -> list[str]:
        return list(self._services)

    def get(self, service_id: str) -> ServiceDeclaration | None:
        return self._services.get(service_id)
