"""Outgoing mail: queued in the sender's transaction (the outbox), delivered by the worker."""
