"""The request pipeline: ordered stages over one RequestContext; `chain.py` holds the order."""
