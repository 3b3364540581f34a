"""The telematics settings pages: secrets shown once with Traccar's config lines, the thresholds form
in the tenant's units (stored SI, low below high), devices registered with an OsmAnd token shown
once; only admins and workshop managers."""

from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import select

from ops.tenants.models import Tenant
from ops.vehicles.telemetry.service import update_thresholds
from ops.vehicles.telemetry.thresholds import DEFAULT_THRESHOLDS
from ops.vehicles.telemetry.units import KPA_PER_PSI, fahrenheit_to_celsius
from tests.vehicles.telemetry.helpers import device
from tests.web import sign_in


async def _tenant_row(shop) -> Tenant:  # type: ignore[no-untyped-def]
    async with shop.db.system() as session:
        tenant = await session.scalar(select(Tenant).where(Tenant.id == shop.id))
        assert tenant is not None
        return tenant


async def test_rotating_the_traccar_secret_shows_it_once_with_the_config_lines(client, factory):
    shop = await factory.tenant(country="US")
    token = await sign_in(client, shop.admin.email)

    response = await client.post("/vehicles/telematics/traccar-secret", form={"csrf_token": token})

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = await response.get_data(as_text=True)
    match = re.search(
        r"forward.header&#39;&gt;Authorization: Bearer ([A-Za-z0-9_\-]+)&lt;", html
    ) or re.search(r"forward.header'&gt;Authorization: Bearer ([A-Za-z0-9_\-]+)&lt;", html)
    assert match, html
    secret = match.group(1)
    assert f"/hooks/traccar/{shop.tenant.slug}" in html and "forward.json" in html
    assert (await _tenant_row(shop)).traccar_secret_hash == hashlib.sha256(secret.encode()).hexdigest()

    page = await (await client.get("/vehicles/telematics")).get_data(as_text=True)
    assert secret not in page and "A Traccar secret is set" in page


async def test_rotating_the_signing_secret_shows_a_standard_webhooks_secret_once(client, factory):
    shop = await factory.tenant(country="US")
    token = await sign_in(client, shop.admin.email)

    response = await client.post("/vehicles/telematics/signing-secret", form={"csrf_token": token})

    html = await response.get_data(as_text=True)
    stored = (await _tenant_row(shop)).telemetry_signing_secret
    assert stored is not None and stored.startswith("whsec_") and stored in html
    assert stored not in await (await client.get("/vehicles/telematics")).get_data(as_text=True)


async def test_thresholds_are_typed_in_psi_and_fahrenheit_and_stored_in_si(client, factory):
    shop = await factory.tenant(country="US")  # miles, gallons, psi and °F
    token = await sign_in(client, shop.admin.email)
    page = await (await client.get("/vehicles/telematics")).get_data(as_text=True)
    assert 'value="28"' in page and 'value="220"' in page and "(psi)" in page and "°F" in page
    form = {
        "csrf_token": token,
        "tyre_critical_kpa": "18",
        "tyre_low_kpa": "30",
        "tyre_high_kpa": "36",
        "engine_temp_low_c": "170",
        "engine_temp_high_c": "230",
        "battery_low_v": "12.0",
        "battery_high_v": "15.0",
    }

    response = await client.post("/vehicles/telematics/thresholds", form=form)

    assert response.status_code == 303
    stored = (await _tenant_row(shop)).telemetry_thresholds
    assert stored["tyre_low_kpa"] == pytest.approx(30 * KPA_PER_PSI, abs=1e-9)
    assert stored["engine_temp_high_c"] == pytest.approx(fahrenheit_to_celsius(230), abs=1e-9)
    assert stored["battery_low_v"] == 12.0


async def test_a_low_above_its_high_or_a_blank_is_refused_naming_the_field_and_nothing_is_saved(
    client, factory
):
    shop = await factory.tenant(country="US")
    token = await sign_in(client, shop.admin.email)
    form = {
        "csrf_token": token,
        "tyre_critical_kpa": "18",
        "tyre_low_kpa": "30",
        "tyre_high_kpa": "36",
        "engine_temp_low_c": "",
        "engine_temp_high_c": "230",
        "battery_low_v": "15.5",
        "battery_high_v": "15.0",
    }

    response = await client.post("/vehicles/telematics/thresholds", form=form)

    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    assert 'id="thresholds-engine_temp_low_c-error"' in html
    assert (await _tenant_row(shop)).telemetry_thresholds == {}
    form["engine_temp_low_c"] = "170"
    response = await client.post("/vehicles/telematics/thresholds", form=form)
    html = await response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="thresholds-battery_high_v-error"' in html
    assert "This must be above the value before it." in html


async def test_registering_an_osmand_device_shows_its_token_once(client, factory):
    shop = await factory.tenant(country="US")
    vehicle = await shop.vehicle()
    token = await sign_in(client, shop.admin.email)

    response = await client.post(
        f"/vehicles/{vehicle.id}/devices",
        form={"csrf_token": token, "kind": "OSMAND", "unique_id": "phone-van-3"},
    )

    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    match = re.search(rf"/hooks/osmand/{shop.tenant.slug}\?token=([A-Za-z0-9_\-]+)", html)
    assert match, html
    registered = await device(shop.db, shop.id, "phone-van-3")
    assert registered.token_hash == hashlib.sha256(match.group(1).encode()).hexdigest()
    page = await (await client.get(f"/vehicles/{vehicle.id}/devices")).get_data(as_text=True)
    assert "phone-van-3" in page and match.group(1) not in page

    again = await client.post(
        f"/vehicles/{vehicle.id}/devices",
        form={"csrf_token": token, "kind": "TRACCAR", "unique_id": "phone-van-3"},
    )
    assert again.status_code == 422
    assert "already registered for this vehicle" in await again.get_data(as_text=True)


async def test_only_admins_and_workshop_managers_manage_telematics(app, client, factory):
    shop = await factory.tenant(country="US")
    other = await factory.tenant()
    vehicle = await shop.vehicle()
    foreign = await other.vehicle()
    advisor = await shop.user("service_advisor")
    manager = await shop.user("workshop_manager")

    token = await sign_in(client, advisor.email)
    assert (await client.get("/vehicles/telematics")).status_code == 403
    response = await client.post("/vehicles/telematics/traccar-secret", form={"csrf_token": token})
    assert response.status_code == 403
    assert (await _tenant_row(shop)).traccar_secret_hash is None

    manager_client = app.test_client()
    await sign_in(manager_client, manager.email)
    assert (await manager_client.get("/vehicles/telematics")).status_code == 200
    assert (await manager_client.get(f"/vehicles/{vehicle.id}/devices")).status_code == 200
    assert (await manager_client.get(f"/vehicles/{foreign.id}/devices")).status_code == 404


async def test_thresholds_show_whole_degrees_and_tenths_of_a_bar_and_saving_unchanged_keeps_them(
    client, factory
):
    """A Swiss manager read '82.22 °C' and '1.38 bar' (the psi and °F defaults converted); saving the form
    as shown must not move the stored thresholds to the rounded figures."""
    shop = await factory.tenant(country="CH")  # km, bar and °C
    token = await sign_in(client, shop.admin.email)
    async with shop.db.uow(shop.admin.actor) as uow:
        await update_thresholds(uow, {**DEFAULT_THRESHOLDS, "tyre_high_kpa": 225.0})
    before = (await _tenant_row(shop)).telemetry_thresholds

    page = await (await client.get("/vehicles/telematics")).get_data(as_text=True)
    shown = dict(re.findall(r'name="(\w+)" type="number"[^>]* value="([^"]*)"', page))

    assert shown == {
        "tyre_critical_kpa": "1.4",
        "tyre_low_kpa": "1.9",
        "tyre_high_kpa": "2.25",  # the dealership's own value needs its second decimal
        "engine_temp_low_c": "82",
        "engine_temp_high_c": "104",
        "battery_low_v": "12.2",
        "battery_high_v": "14.8",
    }
    assert "Standard: 82 °C" in page and "Standard: 2.4 bar" in page and "82.22" not in page
    response = await client.post("/vehicles/telematics/thresholds", form={"csrf_token": token, **shown})
    assert response.status_code == 303
    assert (await _tenant_row(shop)).telemetry_thresholds == before
    # A changed field is stored as typed; the others stay exactly as they were.
    shown["engine_temp_high_c"] = "105"
    await client.post("/vehicles/telematics/thresholds", form={"csrf_token": token, **shown})
    assert (await _tenant_row(shop)).telemetry_thresholds == {**before, "engine_temp_high_c": 105.0}
