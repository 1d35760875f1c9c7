"""Provider adapters behind one protocol; `registry.py` is the only dispatch on type."""
