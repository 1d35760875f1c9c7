"""Guardrails: checks run on requests and responses, such as PII detection."""
