"""Capacity planning: a discrete-event simulator of a model fleet under Envelope's policy (`envelope simulate`)."""
