"""Deals: from an accepted quote to delivery, with deposits and refunds."""
