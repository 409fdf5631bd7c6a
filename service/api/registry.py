"""The registry of CDS services, and the discovery document generated from it (§ Discovery).

Each service is declared once (``cards.catalog``); the discovery JSON is built from the declarations at
start-up and served as is. Keyed by service id, never by hook, so two services on one hook cannot collide.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cards.catalog import ServiceDeclaration
from service.api.hooks import HOOKS
from service.api.wire import DiscoveryResponse, ServiceDescription
from service.fhir.prefetch import tokens_of


class Registry:
    """Declared services by id, checked once: a known hook, prefetch tokens that hook allows."""

    def __init__(self, declarations: Iterable[ServiceDeclaration]) -> None:
        self._services: dict[str, ServiceDeclaration] = {}
        for declaration in declarations:
            if declaration.id in self._services:
                raise ValueError(f"service id {declaration.id!r} is declared twice")
            hook = HOOKS.get(declaration.hook)
            if hook is None:
                raise ValueError(
                    f"service {declaration.id!r}: no hook {declaration.hook!r} "
                    f"(known: {', '.join(sorted(HOOKS))})"
                )
            for key, template in declaration.prefetch.items():
                unknown = tokens_of(template) - hook.prefetch_tokens
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
    def hooks(self) -> dict[str, str]:
        """Each service's hook, by service id."""
        return {service_id: d.hook for service_id, d in self._services.items()}

    def get(self, service_id: str) -> ServiceDeclaration | None:
        return self._services.get(service_id)

    def first_on(self, hook: str) -> ServiceDeclaration:
        """The first declared service on ``hook`` (the preview page shows the chart-open one)."""
        return next(d for d in self._services.values() if d.hook == hook)
