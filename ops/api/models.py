"""Partner API plumbing: idempotency records of POST requests."""
