"""Showroom stock: the units for sale, holds for leads (48 hours unless a deposit is paid), test drives."""
