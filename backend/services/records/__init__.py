"""Activity records, the one way facts enter: the record machinery, the registry of kinds, ingest."""
