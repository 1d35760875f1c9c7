"""Typed policy documents and their loader."""
