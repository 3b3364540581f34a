"""Quotes: the configurator, quote arithmetic, the managers' approvals and the customer's signed link."""
