"""Persistence: card history, feedback and suppressions (SQLAlchemy 2 async; SQLite or PostgreSQL).

Nothing here stores a raw patient id or any clinical value: patients appear only as a keyed hash
(HMAC-SHA256 with ``CDS_PATIENT_HASH_KEY``), cards only by uuid, rule id, version and indicator.
"""
