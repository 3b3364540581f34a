"""Languages and regional formats: every text has its German translation, a German user of a Swiss
dealership reads the board and its live updates in German, and dates and money follow the dealership."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from ops.i18n import LANGUAGES, TRANSLATIONS_DIR, format_datetime, format_money, locale_for
from ops.workshop.service import NewWorkOrder, create_work_order, move_work_order
from realtime.hub import View
from tests.factories import TenantFactory
from tests.web import http_sign_in, open_sse, sign_in

ROOT = Path(__file__).resolve().parent.parent
GERMAN_CATALOG = TRANSLATIONS_DIR / "de" / "LC_MESSAGES" / "messages.po"
# Named %-placeholders, an escaped percent sign, and the {n} the page's own script fills in.
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%%|\{[a-z0-9_]+\}")
# 13:05 UTC on a winter day is 14:05 in Zurich and 08:05 in New York.
PROMISED = datetime(2030, 3, 4, 13, 5, tzinfo=UTC)


def _extracted_messages(tmp_path: Path) -> Catalog:
    """The messages in the code and templates now, extracted the way ops/i18n.py documents."""
    template = tmp_path / "messages.pot"
    CommandLineInterface().run(
        [
            "pybabel",
            "-q",
            "extract",
            "-F",
            str(TRANSLATIONS_DIR / "babel.cfg"),
            "-o",
            str(template),
            str(ROOT),
        ]
    )
    with template.open("rb") as handle:
        return read_po(handle)


def _german_catalog() -> Catalog:
    with GERMAN_CATALOG.open("rb") as handle:
        return read_po(handle, locale="de")


def _where(message) -> str:  # type: ignore[no-untyped-def]
    return ", ".join(f"{Path(path).relative_to(ROOT)}:{line}" for path, line in message.locations)


def test_every_text_in_the_code_and_templates_has_a_german_translation(tmp_path):
    german = _german_catalog()
    untranslated = []
    for message in _extracted_messages(tmp_path):
        if not message.id:
            continue
        translated = german.get(message.id)
        strings = translated.string if translated is not None else None
        forms = strings if isinstance(strings, tuple) else (strings,)
        if translated is None or not all(forms):
            untranslated.append(f"{message.id!r} ({_where(message)})")
    assert untranslated == [], (
        "German users would read these in English; run the commands in ops/i18n.py's docstring "
        "and translate them:\n" + "\n".join(untranslated)
    )


def test_no_german_translation_is_marked_fuzzy_because_fuzzy_ones_are_not_shown():
    fuzzy = [message.id for message in _german_catalog() if message.id and message.fuzzy]
    assert fuzzy == []


def test_every_german_translation_keeps_the_placeholders_of_its_english_text():
    mismatched = []
    for message in _german_catalog():
        if not message.id:
            continue
        sources = message.id if isinstance(message.id, tuple) else (message.id,)
        translations = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = Counter(PLACEHOLDER.findall(sources[-1]))
        for translation in translations:
            # A lone % would break the page: templates %-format every text.
            leftover = PLACEHOLDER.sub("", translation)
            if Counter(PLACEHOLDER.findall(translation)) != expected or "%" in leftover:
                mismatched.append(f"{sources[0]!r} -> {translation!r}")
    assert mismatched == []


def test_a_language_without_a_catalog_reads_english_with_the_dealerships_formats():
    assert set(LANGUAGES) == {"en"} | {path.parent.parent.name for path in TRANSLATIONS_DIR.glob("*/*/*.po")}
    assert locale_for("en", "CH") == "en_CH"
    assert locale_for(None, "CH") == "en_CH"
    assert locale_for("de", "CH") == "de_CH"
    assert locale_for("de-CH", None) == "de_CH"
    assert locale_for("fr", "CH") == "en_CH"
    # Babel has no German formats for the US, so the language's own.
    assert locale_for("de_CH", "US") == "de"


async def _work_order_promised(shop, promised_at: datetime):  # type: ignore[no-untyped-def]
    vehicle = await shop.vehicle(plate="ZH 123456")
    async with shop.db.uow(shop.admin.actor) as uow:
        return await create_work_order(
            uow, NewWorkOrder(vehicle_id=vehicle.id, complaint="Bremsen quietschen", promised_at=promised_at)
        )


async def test_a_german_user_of_a_swiss_dealership_sees_the_board_in_swiss_german(client, factory):
    shop = await factory.tenant(country="CH")
    advisor = await shop.user("service_advisor", locale="de")
    await _work_order_promised(shop, PROMISED)
    await sign_in(client, advisor.email)

    html = await (await client.get("/workshop/board")).get_data(as_text=True)

    assert '<html lang="de-CH">' in html
    assert "<h1>Auftragstafel</h1>" in html
    assert "Kundendienstberater" in html
    assert "Eingeplant" in html and "Wartet auf Teile" in html
    assert "<dt>Zugesagt</dt>" in html
    assert "Nicht zugewiesen" in html
    assert ">Verschieben<" in html
    assert "Abmelden" in html
    assert "Job board" not in html and "Promised" not in html
    # The promised time in the dealership's timezone, in Swiss German format.
    assert "04.03.30, 14:05" in html


async def test_an_english_user_of_a_swiss_dealership_reads_english_with_swiss_dates(client, factory):
    shop = await factory.tenant(country="CH")
    advisor = await shop.user("service_advisor", locale="en")
    await _work_order_promised(shop, PROMISED)
    await sign_in(client, advisor.email)

    html = await (await client.get("/workshop/board")).get_data(as_text=True)

    assert '<html lang="en-CH">' in html
    assert "<h1>Job board</h1>" in html
    assert "<dt>Promised</dt>" in html
    assert "04.03.2030, 14:05" in html


async def test_the_new_work_order_form_shows_the_default_categories_in_german(client, factory):
    shop = await factory.tenant(country="CH")
    advisor = await shop.user("service_advisor", locale="de")
    await shop.vehicle()
    await sign_in(client, advisor.email)

    html = await (await client.get("/workshop/work-orders/new")).get_data(as_text=True)

    for category in ("Wartung", "Reifenservice", "Ölwechsel", "Carrosseriearbeiten", "Elektrik"):
        assert f">{category}</option>" in html
    assert "Tire Service" not in html
    assert ">Dringend</option>" in html


async def test_a_signed_out_visitor_gets_the_sign_in_page_in_the_browsers_language(client):
    response = await client.get("/login", headers={"Accept-Language": "de-CH,de;q=0.9,en;q=0.5"})

    html = await response.get_data(as_text=True)
    assert '<html lang="de">' in html
    assert "Melden Sie sich bei Ihrer Garage an." in html
    assert ">Anmelden</button>" in html


async def test_a_german_users_move_answer_and_refusal_are_in_german(client, factory):
    shop = await factory.tenant(country="CH")
    advisor = await shop.user("service_advisor", locale="de", name="Jonas Meier")
    work_order = await shop.work_order()
    token = await sign_in(client, advisor.email)
    headers = {"HX-Request": "true", "X-CSRF-Token": token}
    url = f"/workshop/work-orders/{work_order.id}/move"

    refused = await client.post(
        url, form={"status": "READY", "version": str(work_order.version)}, headers=headers
    )
    moved = await client.post(
        url, form={"status": "SCHEDULED", "version": str(work_order.version)}, headers=headers
    )

    assert refused.status_code == 422
    assert "kann nicht von «Neu» nach «Abholbereit» verschoben werden." in await refused.get_data(
        as_text=True
    )
    assert moved.status_code == 200
    announced = f"{work_order.code} von Jonas Meier nach «Eingeplant» verschoben."
    assert announced in await moved.get_data(as_text=True)


async def test_one_move_reaches_each_watcher_in_their_own_language(live_server):
    shop = await TenantFactory(live_server.runtime.db).tenant(country="CH")
    german = await shop.user("technician", locale="de")
    english = await shop.user("technician", locale="en")
    work_order = await _work_order_promised(shop, PROMISED)
    async with (
        http_sign_in(live_server.url, german.email) as (german_client, _),
        http_sign_in(live_server.url, english.email) as (english_client, _),
        open_sse(german_client, "workshop") as german_stream,
        open_sse(english_client, "workshop") as english_stream,
    ):
        await asyncio.sleep(0.05)
        async with live_server.runtime.db.uow(shop.admin.actor) as uow:
            await move_work_order(uow, work_order.id, "SCHEDULED", work_order.version)
        german_update = (await german_stream.next(wait=10)).data
        english_update = (await english_stream.next(wait=10)).data

    assert f"{work_order.code} von Admin Person nach «Eingeplant» verschoben." in german_update
    assert "<dt>Zugesagt</dt>" in german_update and "04.03.30, 14:05" in german_update
    assert f"{work_order.code} moved to Scheduled by Admin Person." in english_update
    assert "<dt>Promised</dt>" in english_update and "04.03.2030, 14:05" in english_update


async def test_live_renders_format_money_and_dates_for_the_dealership(runtime, factory):
    swiss = await factory.tenant(country="CH")
    american = await factory.tenant(country="US")
    cases = [
        (swiss, "de", "CHF\xa01\u2019234.50", "04.03.30, 14:05"),
        (swiss, "en", "CHF\xa01\u2019234.50", "04.03.2030, 14:05"),
        (american, "en", "$1,234.50", "3/4/30, 8:05\u202fAM"),
    ]
    for shop, language, money, promised in cases:
        user = await shop.user("technician", locale=language)
        restore = await runtime.hub.context_for(shop.id, View.for_actor(user.actor))
        try:
            shown = (format_money(Decimal("1234.50")), format_datetime(PROMISED))
        finally:
            restore()
        assert shown == (money, promised), (shop.tenant.country, language)


async def test_template_plurals_take_extra_values_and_escape_them(app):
    template = app.jinja_env.from_string(
        "{{ ngettext('%(num)s card for %(name)s', '%(num)s cards for %(name)s', count, name=name) }}"
    )

    html = await template.render_async(count=2, name="<b>Reto</b>")

    assert html == "2 cards for &lt;b&gt;Reto&lt;/b&gt;"
