"""The policy registry: versioned config documents, activation, audit, rollback, flags."""
