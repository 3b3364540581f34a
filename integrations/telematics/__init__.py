"""Telematics providers' payloads parsed into one reading in SI units (pure, no I/O)."""
