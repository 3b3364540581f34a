"""Showroom sales: catalog, stock units, reservations, leads, test drives, quotes, deals, deliveries."""
