"""Admission stores: grant a request's whole ask (buckets, slots, budget) or none of it."""
