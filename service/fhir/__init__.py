"""FHIR access: prefetch templates and their resolution, the fallback FHIR client and the one outbound HTTP
path (URL normal form, allowlist, capped bodies)."""
