"""The ERP stand-ins (a local Odoo, a signed-JSON middleware) for the adapter tests."""

from tests.erp.conftest import middleware, odoo

__all__ = ["middleware", "odoo"]
