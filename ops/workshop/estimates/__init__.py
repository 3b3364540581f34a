"""Estimates: the customer approves or declines the quoted lines through a signed link."""
