"""Languages and regional formats: every text has its German translation, a German user of a Swiss
dealership reads the board and its live updates in German, and dates and money follow the dealership.
A dealership's French and Italian customers read their estimate page, its mail and their invoice in their
language."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from ops.config import Settings
from ops.i18n import (
    LANGUAGES,
    TRANSLATIONS_DIR,
    format_date,
    format_datetime,
    format_money,
    format_time,
    locale_for,
)
from ops.mail.service import written_for
from ops.workshop.service import NewWorkOrder, create_work_order, move_work_order
from realtime.hub import View
from tests.conftest import Backend, make_settings
from tests.factories import TenantFactory
from tests.sales.quotes import helpers as quote_helpers
from tests.web import http_sign_in, open_sse, sign_in
from tests.workshop.estimates.helpers import last_mail, quoted_job, send

ROOT = Path(__file__).resolve().parent.parent
GERMAN_CATALOG = TRANSLATIONS_DIR / "de" / "LC_MESSAGES" / "messages.po"
# What a dealership's customers read, who may read French or Italian where staff read German or English:
# the public estimate and offer pages (and the page frame around them), the mails, the estimate's own
# messages (the page's errors, the mail's subject), and the invoice (its PDF and the printed page).
# Every message from these has to be in fr and it.
CUSTOMER_FACING = (
    "templates/base.html",
    "templates/mail/",
    "templates/workshop/estimates/",
    "ops/workshop/estimates/",
    "templates/workshop/invoices/_document.html",
    "ops/workshop/invoices/pdf.py",
    "templates/sales/quotes/public.html",
    "templates/sales/quotes/unavailable.html",
    "templates/sales/quotes/_figures.html",
)
# Customer-facing messages in modules that also speak to staff (ops/sales/quotes, ops/workshop, ops/mail).
CUSTOMER_FACING_MESSAGES = (
    "Your offer %(number)s for a %(vehicle)s from %(dealership)s",
    "This offer link is not valid. Check that it was copied whole.",
    "This offer has expired. Please ask the dealership for a new one.",
    "This offer was changed or sent again. Please use the link in the latest email.",
    "Choose accept or decline.",
    "This offer was already answered.",
    # The subjects of the vehicle-ready and welcome mails (their bodies are in templates/mail/).
    "Your %(vehicle)s is ready for collection at %(dealership)s",
    "Your Pitwall account at %(dealership)s",
    # The units after an invoice line's quantity (ops/workshop/parts), and how a paid invoice was paid
    # (ops/payments), as the invoice prints them.
    "pc",
    "set",
    "l",
    "h",
    "Card (Stripe)",
    "Cash",
    "Bank transfer",
    "Recorded by hand",
)
CUSTOMER_LANGUAGES = ("fr", "it")
HIDDEN = re.compile(r'<input type="hidden" name="(csrf_token|fingerprint)" value="([^"]+)"')
# Named %-placeholders (with a sign flag, as in %(points)+d), an escaped percent sign, and the {n} the
# page's own script fills in.
PLACEHOLDER = re.compile(r"%\([a-z_]+\)\+?[sd]|%%|\{[a-z0-9_]+\}")
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


def _catalog(language: str) -> Catalog:
    with (TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


def _german_catalog() -> Catalog:
    return _catalog("de")


def _is_translated(catalog: Catalog, message_id: str) -> bool:
    translated = catalog.get(message_id)
    if translated is None or translated.fuzzy:
        return False
    strings = translated.string
    return all(strings if isinstance(strings, tuple) else (strings,))


@pytest.fixture
def settings(backend: Backend, tmp_path: Path) -> Settings:
    # The public estimate page is rate-limited per address, which every test shares (as in
    # tests/workshop/estimates/conftest.py).
    return make_settings(backend, tmp_path, public_requests_per_window=100_000)


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


def test_every_customer_facing_text_has_a_french_and_an_italian_translation(tmp_path):
    catalogs = {language: _catalog(language) for language in CUSTOMER_LANGUAGES}
    customer_facing = [
        message
        for message in _extracted_messages(tmp_path)
        if message.id
        and (
            message.id in CUSTOMER_FACING_MESSAGES
            or any(
                str(Path(path).relative_to(ROOT)).startswith(CUSTOMER_FACING) for path, _ in message.locations
            )
        )
    ]
    assert len(customer_facing) > 30, "the estimate page and mail alone have more text than this"
    untranslated = [
        f"{language}: {message.id!r} ({_where(message)})"
        for language, catalog in catalogs.items()
        for message in customer_facing
        if not _is_translated(catalog, message.id)
    ]
    assert untranslated == [], (
        "French and Italian customers would read these in English; run the commands in ops/i18n.py's "
        "docstring and translate them in ops/translations/fr and it:\n" + "\n".join(untranslated)
    )


@pytest.mark.parametrize("language", ["de", *CUSTOMER_LANGUAGES])
def test_no_translation_is_marked_fuzzy_because_fuzzy_ones_are_not_shown(language):
    fuzzy = [message.id for message in _catalog(language) if message.id and message.fuzzy]
    assert fuzzy == []


@pytest.mark.parametrize("language", ["de", *CUSTOMER_LANGUAGES])
def test_every_translation_keeps_the_placeholders_of_its_english_text(language):
    mismatched = []
    for message in _catalog(language):
        if not message.id:
            continue
        sources = message.id if isinstance(message.id, tuple) else (message.id,)
        translations = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = Counter(PLACEHOLDER.findall(sources[-1]))
        for translation in translations:
            if not translation:
                continue  # untranslated in fr or it: read in English (the German test above counts those)
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
    assert locale_for("fr", "CH") == "fr_CH"
    assert locale_for("it", "CH") == "it_CH"
    assert locale_for("fr-CH", None) == "fr_CH"
    assert locale_for("es", "CH") == "en_CH"
    # Babel has no German formats for the US, so the language's own.
    assert locale_for("de_CH", "US") == "de"


@pytest.mark.parametrize(
    ("locale", "currency", "shown"),
    [
        ("de_CH", "CHF", ("CHF\xa01\u2019000.00", "-CHF\xa01\u2019000.00")),
        ("en_CH", "CHF", ("CHF\xa01\u2019000.00", "-CHF\xa01\u2019000.00")),
        ("en", "USD", ("$1,000.00", "-$1,000.00")),
        ("de", "EUR", ("1.000,00\xa0€", "-1.000,00\xa0€")),
    ],
)
def test_a_negative_amount_is_the_positive_one_with_a_minus_in_front(locale, currency, shown):
    # Babel's Swiss pattern wrote CHF-1000.00, which reads as a code; some pages set a minus sign by hand.
    with written_for(locale, "Europe/Zurich", currency):
        assert (format_money(Decimal("1000")), format_money(Decimal("-1000"))) == shown


@pytest.mark.parametrize(
    ("locale", "shown"),
    [
        ("de_CH", ("04.03.2030", "04.03.2030, 14:05", "14:05")),
        ("en_CH", ("4 Mar 2030", "4 Mar 2030, 14:05", "14:05")),
        ("en", ("Mar 4, 2030", "Mar 4, 2030, 2:05\u202fPM", "2:05\u202fPM")),
    ],
)
def test_a_moment_writes_its_day_as_a_day_is_written(locale, shown):
    # Babel's short style wrote 04.03.30 beside a page's 04.03.2030, and 04.03.2030 beside 4 Mar 2030.
    moment = datetime(2030, 3, 4, 13, 5, tzinfo=UTC)
    with written_for(locale, "Europe/Zurich", "CHF"):
        assert (format_date(moment), format_datetime(moment), format_time(moment)) == shown


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
    # The promised time in the dealership's timezone, in Swiss German format, its day written as
    # every other day on the page is.
    assert "04.03.2030, 14:05" in html


async def test_an_english_user_of_a_swiss_dealership_reads_english_with_swiss_dates(client, factory):
    shop = await factory.tenant(country="CH")
    advisor = await shop.user("service_advisor", locale="en")
    await _work_order_promised(shop, PROMISED)
    await sign_in(client, advisor.email)

    html = await (await client.get("/workshop/board")).get_data(as_text=True)

    assert '<html lang="en-CH">' in html
    assert "<h1>Job board</h1>" in html
    assert "<dt>Promised</dt>" in html
    assert "4 Mar 2030, 14:05" in html


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
    assert "<dt>Zugesagt</dt>" in german_update and "04.03.2030, 14:05" in german_update
    assert f"{work_order.code} moved to Scheduled by Admin Person." in english_update
    assert "<dt>Promised</dt>" in english_update and "4 Mar 2030, 14:05" in english_update


async def test_live_renders_format_money_and_dates_for_the_dealership(runtime, factory):
    swiss = await factory.tenant(country="CH")
    american = await factory.tenant(country="US")
    cases = [
        (swiss, "de", "CHF\xa01\u2019234.50", "04.03.2030, 14:05"),
        (swiss, "en", "CHF\xa01\u2019234.50", "4 Mar 2030, 14:05"),
        (american, "en", "$1,234.50", "Mar 4, 2030, 8:05\u202fAM"),
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


# What a French and an Italian customer of a Swiss dealership read: the page and mail in their language,
# with the dealership's money and dates as their language writes them in Switzerland (fr_CH, it_CH).
CUSTOMER_PAGES = {
    "fr": {
        "lang": "fr-CH",
        "title": "Devis %(code)s",
        "read": [
            "Veuillez accepter ou refuser chaque poste.",
            "> Accepter</label>",
            "> Refuser</label>",
            "<dt>TVA</dt>",
            "Si vous acceptez tout",
            ">Envoyer ma réponse</button>",
            "Main-d\u2019œuvre\xa0: 1,5 h",
            "267,55\xa0CHF",
        ],
        "missing": "Choisissez «\xa0Accepter\xa0» ou «\xa0Refuser\xa0» pour chaque poste.",
        "answered": ["Merci. Votre réponse est bien parvenue à", ">Accepté</span>", ">Refusé</span>"],
        "subject": "Devis %(code)s pour votre Skoda Octavia de %(dealership)s",
        "mail": [
            "Bonjour Anna Muster,",
            "Total si vous acceptez tout\xa0: 364,84\xa0CHF (TVA comprise)",
            "Acceptez ou refusez ici\xa0:",
        ],
        "valid_until": re.compile(r"Ce lien est valable jusqu\u2019au \d{1,2} \w+ \d{4}\."),
    },
    "it": {
        "lang": "it-CH",
        "title": "Preventivo %(code)s",
        "read": [
            "La preghiamo di approvare o rifiutare ogni voce.",
            "> Approva</label>",
            "> Rifiuta</label>",
            "<dt>IVA</dt>",
            "Se approva tutto",
            ">Invia la mia risposta</button>",
            "Manodopera: 1.5 h",
            "CHF\xa0267.55",
        ],
        "missing": "Scelga «Approva» o «Rifiuta» per ogni voce.",
        "answered": ["Grazie. La sua risposta è giunta a", ">Approvato</span>", ">Rifiutato</span>"],
        "subject": "Preventivo %(code)s per il suo veicolo Skoda Octavia da %(dealership)s",
        "mail": [
            "Buongiorno Anna Muster,",
            "Totale se approva tutto: CHF\xa0364.84 (IVA inclusa)",
            "Approvi o rifiuti qui:",
        ],
        "valid_until": re.compile(r"Questo link è valido fino al \d{1,2} \w+ \d{4}\."),
    },
}
# English text of the public page that none of these customers should meet.
ENGLISH_ON_THE_PAGE = ("Estimate ", "Approve", "Decline", "VAT", "Send my answer", "Skip to content")


@pytest.mark.parametrize("language", CUSTOMER_LANGUAGES)
async def test_a_customer_reads_the_estimate_page_and_the_answer_in_their_language(client, factory, language):
    expected = CUSTOMER_PAGES[language]
    shop = await factory.tenant(country="CH")
    job = await quoted_job(shop, language=language)
    token = await send(job)

    # Whatever language the browser asks for: the page is the customer's.
    response = await client.get(f"/estimate/{token}", headers={"Accept-Language": "de-CH,de;q=0.9"})

    html = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'<html lang="{expected["lang"]}">' in html
    number = f'<span class="number">{job.work_order.code}</span>'
    assert f"<h1>{expected['title'] % {'code': number}}</h1>" in html
    for text in expected["read"]:
        assert text in html, text
    for english in ENGLISH_ON_THE_PAGE:
        assert english not in html, english

    fields = dict(HIDDEN.findall(html))
    refused = await client.post(f"/estimate/{token}", form=fields)
    assert refused.status_code == 422
    assert expected["missing"] in await refused.get_data(as_text=True)

    choices = {f"line-{job.labour.id}": "APPROVED", f"line-{job.part_line.id}": "DECLINED"}
    answered = await client.post(f"/estimate/{token}", form={**fields, **choices})
    assert answered.status_code == 303
    html = await (await client.get(f"/estimate/{token}")).get_data(as_text=True)
    for text in expected["answered"]:
        assert text in html, text


@pytest.mark.parametrize("language", CUSTOMER_LANGUAGES)
async def test_a_customer_gets_the_estimate_mail_in_their_language(factory, language):
    expected = CUSTOMER_PAGES[language]
    shop = await factory.tenant(country="CH")
    job = await quoted_job(shop, language=language)
    await send(job)

    mail = await last_mail(shop.db, shop.id)

    assert mail.language == language
    assert mail.subject == expected["subject"] % {"code": job.work_order.code, "dealership": shop.tenant.name}
    assert mail.text.startswith(expected["mail"][0])
    for text in expected["mail"]:
        assert text in mail.text, text
    assert expected["valid_until"].search(mail.text), mail.text
    assert mail.html is not None and f'<html lang="{language}">' in mail.html
    assert "VAT" not in mail.text and "VAT" not in mail.html


async def test_staff_who_read_french_get_french_formats_and_english_where_untranslated(client, factory):
    shop = await factory.tenant(country="CH")
    advisor = await shop.user("service_advisor", locale="fr")
    await _work_order_promised(shop, PROMISED)
    await sign_in(client, advisor.email)

    html = await (await client.get("/workshop/board")).get_data(as_text=True)

    assert '<html lang="fr-CH">' in html
    # The board has no French yet: English text, not a missing or garbled page.
    assert "<h1>Job board</h1>" in html and "<dt>Promised</dt>" in html
    assert "4 mars 2030, 14:05" in html  # fr_CH's date and time, in the dealership's timezone
    assert "Se déconnecter" in html


# The offer a sales rep mails: the same customers read its page and mail in their language.
OFFER_PAGES = {
    "fr": {
        "lang": "fr-CH",
        "title": "Offre %(code)s",
        "read": [
            "Total TVA comprise",
            "Mensualité",
            "\u00d7 48 mois à 3,9 % de taux annuel effectif",
            "Les prix s\u2019entendent TVA comprise.",
            ">Accepter l\u2019offre</button>",
            ">Refuser</button>",
        ],
        "missing": "Choisissez «\xa0Accepter l\u2019offre\xa0» ou «\xa0Refuser\xa0».",
        "answered": "Merci. Vous avez accepté cette offre;",
        "subject": "Votre offre %(code)s de %(dealership)s pour le véhicule Skoda Octavia Style",
        "mail": [
            "Bonjour ",
            "Merci de votre intérêt.",
            "Total TVA comprise\xa0:",
            "Mensualité\xa0:",
            "Consultez l\u2019offre et acceptez-la ici\xa0:",
            "Cette offre est valable jusqu\u2019au ",
        ],
    },
    "it": {
        "lang": "it-CH",
        "title": "Offerta %(code)s",
        "read": [
            "Totale IVA inclusa",
            "Rata mensile",
            "\u00d7 48 mesi al 3.9 % di tasso annuo effettivo",
            "I prezzi sono comprensivi di IVA.",
            ">Accetta l\u2019offerta</button>",
            ">Rifiuta</button>",
        ],
        "missing": "Scelga «Accetta l\u2019offerta» o «Rifiuta».",
        "answered": "Grazie. Ha accettato questa offerta;",
        "subject": "La sua offerta %(code)s di %(dealership)s per il veicolo Skoda Octavia Style",
        "mail": [
            "Buongiorno ",
            "Grazie per il suo interesse.",
            "Totale IVA inclusa:",
            "Rata mensile:",
            "Consulti e accetti l\u2019offerta qui:",
            "Questa offerta è valida fino al ",
        ],
    },
}
ENGLISH_ON_THE_OFFER = ("Offer ", "Accept the offer", "VAT", "Monthly payment", "Skip to content")


async def _financed_offer(factory, language: str):  # type: ignore[no-untyped-def]
    room = await quote_helpers.showroom(await factory.tenant(country="CH"))
    quote = await quote_helpers.unit_quote(room, list_price="38500.00", cost="33000.00", language=language)
    quote = await quote_helpers.with_terms(
        room, quote, discount="1500", down_payment="5000", apr_percent="3.9", term_months="48"
    )
    return room, quote, await quote_helpers.send(room, quote)


@pytest.mark.parametrize("language", CUSTOMER_LANGUAGES)
async def test_a_customer_reads_the_offer_page_and_the_answer_in_their_language(client, factory, language):
    expected = OFFER_PAGES[language]
    _room, quote, token = await _financed_offer(factory, language)

    response = await client.get(f"/quote/{token}", headers={"Accept-Language": "de-CH,de;q=0.9"})

    html = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'<html lang="{expected["lang"]}">' in html
    assert f"<h1>{expected['title'] % {'code': quote.code}}</h1>" in html
    for text in expected["read"]:
        assert text in html, text
    for english in ENGLISH_ON_THE_OFFER:
        assert english not in html, english

    csrf = {"csrf_token": dict(HIDDEN.findall(html))["csrf_token"]}
    refused = await client.post(f"/quote/{token}", form={**csrf, "answer": "MAYBE"})
    assert refused.status_code == 422
    assert expected["missing"] in await refused.get_data(as_text=True)

    accepted = await client.post(f"/quote/{token}", form={**csrf, "answer": "ACCEPTED"})
    assert accepted.status_code == 303
    assert expected["answered"] in await (await client.get(f"/quote/{token}")).get_data(as_text=True)


@pytest.mark.parametrize("language", CUSTOMER_LANGUAGES)
async def test_a_customer_gets_the_offer_mail_in_their_language(factory, language):
    expected = OFFER_PAGES[language]
    room, quote, _token = await _financed_offer(factory, language)

    mail = await last_mail(room.db, room.shop.id)

    assert mail.language == language
    # The vehicle goes on with its colour and VIN.
    assert mail.subject.startswith(
        expected["subject"] % {"code": quote.code, "dealership": room.shop.tenant.name}
    )
    assert mail.text.startswith(expected["mail"][0])
    for text in expected["mail"]:
        assert text in mail.text, text
    assert mail.html is not None and f'<html lang="{language}">' in mail.html
    assert "VAT" not in mail.text and "VAT" not in mail.html
