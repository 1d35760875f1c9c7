"""Tests for the request classifier (src/envelope/classifier)."""
