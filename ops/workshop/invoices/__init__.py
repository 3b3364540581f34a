"""Invoices: the printable invoice, its PDF, and the list."""
