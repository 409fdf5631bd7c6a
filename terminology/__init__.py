"""Clinical knowledge as data (FHIR ValueSets with provenance), units, and the typed PatientSnapshot.

Knows FHIR JSON and no HTTP: ``service`` hands it resolved prefetch data; ``cards`` reads only the snapshot.
"""
