"""What a rule is given: the patient's snapshot and, beside it, what the hook's context adds.

On ``patient-view`` that is the snapshot alone; on ``order-select`` and ``order-sign`` the clinician's draft
orders come with it (CDS Hooks library, ``context.draftOrders``), read with the same terminology as the
chart's medications, so a rule can judge what is about to be ordered against what the chart shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from terminology.snapshot import MedicationRecord, PatientSnapshot


@dataclass(frozen=True, slots=True)
class Given:
    snapshot: PatientSnapshot
    drafts: tuple[MedicationRecord, ...] = ()
