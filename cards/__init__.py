"""The clinical rules: pure functions from a ``PatientSnapshot`` to findings to CDS Hooks cards.

No I/O at evaluation time, no clock (``now`` is passed in), no code literals: thresholds, citations and
card text are data files under ``cards/data`` loaded once at start-up.
"""
