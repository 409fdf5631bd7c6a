"""``POST /cds-services/{id}/feedback`` (CDS Hooks 2.0 § Feedback): validated, atomic, idempotent, durable.

Every item is validated before anything is stored; one bad item rejects the batch with a 400 naming it
(``feedback.<index>.<field>``) and nothing of the batch is kept. A batch is stored in one transaction and
the 200 is sent only after the commit (SQLite runs with ``synchronous=FULL``). Redelivered items are
stored once; feedback on card uuids we never issued is accepted and flagged (the EHR may hold cards from
before a database restore). A card issued a moment ago may still be in the history queue
(``service.store.history_writer``): it is known all the same, and its row is written with the feedback, so
a kill -9 right after the 200 loses neither; the report ties feedback to cards when it is made, not by the
flag stored here. An override with a reason enters this process's override index at once
(``service.store.override_index``): the next call for the patient reads it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from service.api.call import parse_json_object, parse_model
from service.api.wire import Feedback
from service.errors import ErrorCode, ServiceError
from service.store.override_index import OverrideIndex
from service.store.records import CallRecord
from service.store.repository import Store

log = logging.getLogger("calcinosis_cds.feedback")
SERVICE_UNAVAILABLE = 503


async def receive_feedback(
    store: Store,
    service_id: str,
    raw: bytes,
    now: datetime,
    queued: Mapping[str, CallRecord],
    overrides: OverrideIndex,
) -> dict[str, Any]:
    """Validate and store one batch; ``queued``: the calls still on their way to the history, by card uuid."""
    batch = parse_model(Feedback, parse_json_object(raw))
    try:
        result = await store.store_feedback(service_id, batch.feedback, now, queued)
    except SQLAlchemyError as exc:
        log.error(
            "feedback not stored service=%s items=%d error=%s",
            service_id,
            len(batch.feedback),
            type(exc).__name__,
        )
        raise ServiceError.single(
            SERVICE_UNAVAILABLE,
            ErrorCode.STORAGE_UNAVAILABLE,
            "feedback could not be stored; nothing was kept, retry",
        ) from exc
    overrides.add(result.overridden_patients)
    log.info(
        "feedback service=%s items=%d stored=%d duplicates=%d unknown_cards=%d",
        service_id,
        len(batch.feedback),
        result.stored,
        result.duplicates,
        len(result.unknown_cards),
    )
    body: dict[str, Any] = {"stored": result.stored, "duplicates": result.duplicates}
    if result.unknown_cards:
        body["unknownCards"] = list(result.unknown_cards)
    return body
