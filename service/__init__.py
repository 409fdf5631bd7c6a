"""Plumbing of calcinosis-cds: HTTP, settings, CDS Hooks wire models, prefetch and the FHIR client.

This package knows HTTP and databases and no medicine; the medicine lives in ``terminology`` and ``cards``.
"""
