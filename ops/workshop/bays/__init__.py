"""Bays: managing the workshop's bays and the live bay view (what is on each bay now and next)."""
