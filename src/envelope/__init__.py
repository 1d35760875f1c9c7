"""Envelope: an SLO- and budget-governed LLM gateway and control plane."""
