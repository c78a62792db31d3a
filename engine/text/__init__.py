"""Text utilities shared by stages: PII detection, normalisation."""
