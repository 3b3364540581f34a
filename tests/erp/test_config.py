"""ERP settings: none means no ERP at all; a half-configured ERP stops the start naming what is missing."""

from __future__ import annotations

import pytest

from integrations.erp import create_erp_adapter
from integrations.erp.generic import GenericErp
from integrations.erp.odoo import OdooErp
from ops.config import load_settings


def _env(tmp_path, **values: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"PITWALL_DATA_DIR": str(tmp_path), "PITWALL_SECRET_KEY": "k", **values}


def test_without_pitwall_erp_there_is_no_adapter(tmp_path):
    settings = load_settings(_env(tmp_path))
    assert settings.erp is None and create_erp_adapter(settings) is None


async def test_odoo_and_generic_are_built_from_their_settings(tmp_path):
    odoo = load_settings(
        _env(
            tmp_path,
            PITWALL_ERP="odoo",
            PITWALL_ERP_URL="https://erp.example.ch",
            PITWALL_ERP_DB="dealer",
            PITWALL_ERP_USER="pitwall",
            PITWALL_ERP_API_KEY="key",
            PITWALL_ERP_PULL_MINUTES="15",
        )
    )
    generic = load_settings(
        _env(
            tmp_path,
            PITWALL_ERP="Generic",
            PITWALL_ERP_URL="https://mw.example.ch/in",
            PITWALL_ERP_SECRET="whsec_YWJj",
        )
    )
    odoo_adapter, generic_adapter = create_erp_adapter(odoo), create_erp_adapter(generic)
    assert isinstance(odoo_adapter, OdooErp) and odoo_adapter.endpoint == "https://erp.example.ch/jsonrpc"
    assert odoo.erp_pull_minutes == 15
    assert isinstance(generic_adapter, GenericErp)
    await odoo_adapter.aclose()
    await generic_adapter.aclose()


def test_a_half_configured_erp_names_what_is_missing(tmp_path):
    with pytest.raises(RuntimeError, match="PITWALL_ERP=odoo needs PITWALL_ERP_DB, PITWALL_ERP_API_KEY"):
        load_settings(_env(tmp_path, PITWALL_ERP="odoo", PITWALL_ERP_URL="https://erp", PITWALL_ERP_USER="u"))
    with pytest.raises(RuntimeError, match="must be odoo or generic"):
        load_settings(_env(tmp_path, PITWALL_ERP="sap"))
