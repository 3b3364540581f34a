"""The invoice: GET /workshop/invoices/<id> (HTML for A4), <id>.pdf (the download) and the list."""

from __future__ import annotations

import asyncio
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from ops.customers.models import Customer
from ops.db import utcnow
from ops.payments.service import record_manual_invoice_payment
from ops.tenants.models import Tenant
from ops.vehicles.models import Vehicle
from ops.workshop.models import Invoice, Part, WorkOrder
from tests.factories import TenantHandle
from tests.web import sign_in
from tests.workshop.invoices.builders import make_invoice
from tests.workshop.order_helpers import add_line, add_part, move

ROOT = Path(__file__).resolve().parents[3]
# Babel's Swiss thousands separator is a right single quotation mark, not an apostrophe.
SWISS_THOUSANDS = "\u2019"

LINES = [
    ("LABOUR", "Bremsbeläge vorne ersetzen", "1.5", "165.00"),
    ("PART", "Bremsbelagsatz vorne", "1", "89.90"),
    ("PART", "Bremsenreiniger", "2", "12.35"),
]


async def _customer_reads(shop: TenantHandle, work_order: WorkOrder, language: str, **values: str) -> None:
    """The invoice's customer: the language they read, and whatever else the test names."""
    async with shop.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(
            update(Customer)
            .where(Customer.id == work_order.customer_id)
            .values(preferred_language=language, **values)
        )
        await uow.commit()


async def _invoiced_job(shop: TenantHandle, language: str = "en"):  # type: ignore[no-untyped-def]
    work_order = await shop.work_order(status="IN_PROGRESS")
    await _customer_reads(
        shop,
        work_order,
        language,
        first_name="Jürg",
        last_name="Müller-Lüthi",
        phone="+41791234567",
        address_line="Bahnhofstrasse 12",
        postal_code="8001",
        city="Zürich",
    )
    async with shop.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(
            update(WorkOrder).where(WorkOrder.id == work_order.id).values(odometer_in_km=48213)
        )
        await uow.commit()
    return work_order, await make_invoice(shop, work_order, LINES)


async def poppler(*command: str) -> str:
    """Run one of poppler's tools (pdftotext, pdfinfo): they read a PDF as any viewer would."""
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, check=True)
    return done.stdout


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


async def test_the_invoice_shows_every_figure_in_the_dealerships_money(client, factory):
    """A customer would get an invoice that does not add up, or misses what the law asks for."""
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    work_order, invoice = await _invoiced_job(shop)
    await sign_in(client, advisor.email)

    response = await client.get(f"/workshop/invoices/{invoice.id}")

    assert response.status_code == 200
    page = text_of(await response.get_data(as_text=True))
    # 1.5 h x 165.00 = 247.50; 89.90; 2 x 12.35 = 24.70; VAT 8.1 % rounded at each line:
    # 20.05 + 7.28 + 2.00 = 29.33; net 362.10; total 391.43.
    for expected in (
        shop.tenant.name,
        "INV-000001",
        work_order.code,
        "Jürg Müller-Lüthi",
        "Bahnhofstrasse 12",
        "8001 Zürich",
        "+41 79 123 45 67",
        f"48{SWISS_THOUSANDS}213 km",
        "Bremsbeläge vorne ersetzen",
        "1.5 h",
        "CHF 165.00",
        "CHF 247.50",
        "CHF 89.90",
        "CHF 12.35",
        "CHF 24.70",
        "Labour CHF 247.50",
        "Parts CHF 114.60",
        "Net CHF 362.10",
        "VAT 8.1 % CHF 29.33",
        "Total CHF 391.43",
    ):
        assert expected in page, expected
    async with shop.db.read(shop.id) as session:
        vin = await session.scalar(select(Vehicle.vin).where(Vehicle.id == work_order.vehicle_id))
    assert f"VIN {vin}" in page


async def test_another_dealerships_invoice_is_not_found(client, factory):
    """An invoice of another dealership (its customer's name and address) must never be shown."""
    ours, theirs = await factory.tenant(), await factory.tenant()
    _job, their_invoice = await _invoiced_job(theirs)
    manager = await ours.user("workshop_manager", locale="en")
    await sign_in(client, manager.email)

    assert (await client.get(f"/workshop/invoices/{their_invoice.id}")).status_code == 404
    assert (await client.get(f"/workshop/invoices/{their_invoice.id}.pdf")).status_code == 404
    assert (await client.get("/workshop/invoices/999999999")).status_code == 404


async def test_sales_staff_may_not_open_invoices(client, factory):
    shop = await factory.tenant()
    _job, invoice = await _invoiced_job(shop)
    rep = await shop.user("sales_rep", locale="en")
    await sign_in(client, rep.email)

    assert (await client.get(f"/workshop/invoices/{invoice.id}")).status_code == 403
    assert (await client.get("/workshop/invoices")).status_code == 403


async def test_the_invoice_names_the_garage_its_vat_number_and_when_it_is_due(client, factory, tmp_path):
    """A Swiss VAT invoice without the sender's address, MWST number and due date is not one."""
    shop = await factory.tenant()
    async with shop.db.system(write=True) as session:
        await session.execute(
            update(Tenant)
            .where(Tenant.id == shop.id)
            .values(
                street="Seestrasse 41",
                postal_code="8820",
                city="Wädenswil",
                vat_number="CHE-123.456.788 MWST",
            )
        )
        await session.commit()
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order(status="IN_PROGRESS")
    await _customer_reads(shop, work_order, "en")
    invoice = await make_invoice(
        shop, work_order, LINES, issued_at=datetime(2026, 11, 24, 9, 0, tzinfo=UTC), payment_terms_days=20
    )
    await sign_in(client, advisor.email)

    page = text_of(await (await client.get(f"/workshop/invoices/{invoice.id}")).get_data(as_text=True))
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(await (await client.get(f"/workshop/invoices/{invoice.id}.pdf")).get_data())
    text = " ".join((await poppler("pdftotext", "-layout", str(pdf), "-")).split())

    for expected in (
        "Seestrasse 41",
        "8820 Wädenswil",
        "CHE-123.456.788 MWST",
        "Payment terms 20 days",
        "Due date 14 Dec 2026",
    ):
        assert expected in page, expected
        assert expected in text, expected


async def test_the_pdf_is_a_download_named_after_the_invoice_with_its_text(client, factory, tmp_path):
    """The advisor emails the PDF: it must open, be named INV-…, and read the same as the page."""
    shop = await factory.tenant()
    viewer = await shop.user("viewer", locale="en")
    _job, invoice = await _invoiced_job(shop)
    await sign_in(client, viewer.email)

    response = await client.get(f"/workshop/invoices/{invoice.id}.pdf")

    assert response.status_code == 200
    assert response.content_type == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="INV-000001.pdf"'
    body = await response.get_data()
    assert body.startswith(b"%PDF-")
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(body)
    # Poppler reads the text back as any PDF viewer would: the embedded font maps to real letters.
    text = " ".join((await poppler("pdftotext", "-layout", str(pdf), "-")).split())
    for expected in (
        "INV-000001",
        "Jürg Müller-Lüthi",
        "8001 Zürich",
        "Bremsbeläge vorne ersetzen",
        "CHF 247.50",
        "CHF 29.33",
        "CHF 391.43",
        f"48{SWISS_THOUSANDS}213 km",
        "+41 79 123 45 67",
    ):
        assert expected in text, expected


async def test_a_long_job_spills_onto_more_a4_pages_with_the_heading_on_each(client, factory, tmp_path):
    """A big repair must still print as a readable invoice: every page says what its columns are."""
    shop = await factory.tenant()
    work_order = await shop.work_order(status="IN_PROGRESS")
    await _customer_reads(shop, work_order, "en")
    lines = [("PART", f"Schraube M8 Nr. {n}", "1", "1.20") for n in range(70)]
    invoice = await make_invoice(shop, work_order, lines)
    await sign_in(client, (await shop.user("admin", locale="en")).email)

    body = await (await client.get(f"/workshop/invoices/{invoice.id}.pdf")).get_data()

    pdf = tmp_path / "long.pdf"
    pdf.write_bytes(body)
    info = await poppler("pdfinfo", str(pdf))
    assert re.search(r"Page size:\s+595\.\d+ x 841\.\d+ pts \(A4\)", info), info
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))  # type: ignore[union-attr]
    assert pages >= 2
    texts = [
        await poppler("pdftotext", "-f", str(page), "-l", str(page), str(pdf), "-")
        for page in range(1, pages + 1)
    ]
    assert all("Description" in text for text in texts)
    assert "Schraube M8 Nr. 69" in texts[-1] and "Total" in texts[-1]


async def test_the_list_shows_newest_first_twenty_a_page(client, factory):
    """With hundreds of invoices, the list must stay a page long and start with today's."""
    shop = await factory.tenant()
    now = utcnow()
    ids = []
    for days_ago in range(22):
        work_order = await shop.work_order()
        invoice = await make_invoice(
            shop, work_order, [("LABOUR", "Service", "1", "100")], issued_at=now - timedelta(days=days_ago)
        )
        ids.append(invoice.id)
    await sign_in(client, (await shop.user("admin", locale="en")).email)

    first = await (await client.get("/workshop/invoices")).get_data(as_text=True)
    second = await (await client.get("/workshop/invoices?page=2")).get_data(as_text=True)
    beyond = await client.get("/workshop/invoices?page=9")
    garbled = await client.get("/workshop/invoices?page=abc")

    listed = [int(i) for i in re.findall(r'href="/workshop/invoices/(\d+)"', first)]
    assert listed == ids[:20]
    assert [int(i) for i in re.findall(r'href="/workshop/invoices/(\d+)"', second)] == ids[20:]
    assert 'rel="next"' in first and 'rel="prev"' in second
    assert beyond.status_code == 200
    assert "There are no invoices on this page." in await beyond.get_data(as_text=True)
    assert garbled.status_code == 200


async def test_an_empty_list_says_where_invoices_come_from(client, factory):
    shop = await factory.tenant()
    await sign_in(client, (await shop.user("admin", locale="en")).email)

    page = await (await client.get("/workshop/invoices")).get_data(as_text=True)

    assert "No invoices yet." in page


async def _invoice_issued(shop: TenantHandle, ago: timedelta, total: str, terms_days: int = 30):  # type: ignore[no-untyped-def]
    work_order = await shop.work_order()
    return await make_invoice(
        shop,
        work_order,
        [("LABOUR", "Service", "1", total)],
        issued_at=utcnow() - ago,
        payment_terms_days=terms_days,
    )


def _listed(html: str) -> dict[int, str]:
    """Each listed invoice's id and its payment badge."""
    return {
        int(invoice_id): badge
        for invoice_id, badge in re.findall(
            r'href="/workshop/invoices/(\d+)".*?<span class="badge[^"]*">([^<]+)</span>', html, re.S
        )
    }


async def test_the_list_shows_how_each_invoice_stands_and_what_customers_still_owe(client, factory):
    """The office chases what is unpaid: each invoice reads paid, open or overdue (its own payment terms
    past, its due date over), the list filters to the open or the overdue ones and says what they
    amount to. An invoice due today is not overdue yet."""
    shop = await factory.tenant()
    admin = await shop.user("admin", locale="en")
    paid = await _invoice_issued(shop, timedelta(days=40), "100")
    async with shop.db.uow(admin.actor) as uow:
        await record_manual_invoice_payment(uow, paid.id, "BANK_TRANSFER", "UBS 0042")
    recent = await _invoice_issued(shop, timedelta(days=2), "200")
    due_today = await _invoice_issued(shop, timedelta(days=30), "300")
    late = await _invoice_issued(shop, timedelta(days=31, hours=1), "400")
    on_short_terms = await _invoice_issued(shop, timedelta(days=12), "500", terms_days=10)
    await sign_in(client, admin.email)

    everything = await (await client.get("/workshop/invoices")).get_data(as_text=True)
    unpaid = await (await client.get("/workshop/invoices?payment=open")).get_data(as_text=True)
    overdue = await (await client.get("/workshop/invoices?payment=overdue")).get_data(as_text=True)
    unknown = await (await client.get("/workshop/invoices?payment=lost")).get_data(as_text=True)

    assert _listed(everything) == {
        recent.id: "Open",
        on_short_terms.id: "Overdue",
        due_today.id: "Open",
        late.id: "Overdue",
        paid.id: "Paid",
    }
    assert list(_listed(unpaid)) == [recent.id, on_short_terms.id, due_today.id, late.id]
    assert list(_listed(overdue)) == [on_short_terms.id, late.id]
    assert _listed(unknown) == _listed(everything)
    for page in (everything, unpaid, overdue):
        assert "All (5)" in page and "Open (4)" in page and "Overdue (2)" in page
        # 200, 300, 400 and 500 plus 8.1 % VAT: 1,513.40 owed, 432.40 + 540.50 of it overdue.
        owed = f"Still owed: CHF\u00a01{SWISS_THOUSANDS}513.40, of which CHF\u00a0972.90 overdue."
        assert owed in page
    assert 'aria-current="page">Overdue (2)' in overdue


async def test_an_empty_filter_says_there_is_nothing_to_chase(client, factory):
    shop = await factory.tenant()
    admin = await shop.user("admin", locale="en")
    paid = await _invoice_issued(shop, timedelta(days=3), "100")
    async with shop.db.uow(admin.actor) as uow:
        await record_manual_invoice_payment(uow, paid.id, "CASH", "K-1")
    await sign_in(client, admin.email)

    unpaid = await (await client.get("/workshop/invoices?payment=open")).get_data(as_text=True)
    overdue = await (await client.get("/workshop/invoices?payment=overdue")).get_data(as_text=True)

    assert "Every invoice is paid." in unpaid and "No invoice is overdue." in overdue
    assert "Still owed" not in unpaid


async def test_an_overdue_invoice_says_so_beside_what_is_due(client, factory):
    shop = await factory.tenant()
    late = await _invoice_issued(shop, timedelta(days=45), "100")
    due_today = await _invoice_issued(shop, timedelta(days=30), "100")
    await sign_in(client, (await shop.user("service_advisor", locale="en")).email)

    late_page = await (await client.get(f"/workshop/invoices/{late.id}")).get_data(as_text=True)
    due_page = await (await client.get(f"/workshop/invoices/{due_today.id}")).get_data(as_text=True)

    due_on = (late.issued_at + timedelta(days=30)).astimezone(ZoneInfo(shop.tenant.timezone))
    assert f"Overdue, due on {due_on.day} {due_on:%b %Y}" in text_of(late_page)
    assert 'id="invoice-overdue"' not in due_page and "Issued, not paid" in due_page


def test_the_print_stylesheet_puts_the_invoice_on_a4_without_the_page_around_it():
    """Printed from the browser, the invoice must fill A4 without navigation or buttons."""
    css = (ROOT / "static" / "css" / "app.css").read_text()
    assert re.search(r"@page\s*{\s*size:\s*A4;\s*margin:", css)
    print_rules = css[css.index("@media print") :]
    assert re.search(r"\.topbar[^{]*\.no-print[^{]*button[^{]*{\s*display:\s*none", print_rules)
    assert "display: table-header-group" in print_rules
    assert "break-inside: avoid" in print_rules


@pytest.mark.parametrize(
    ("language", "shown"),
    [
        (
            "en",
            (
                "Oil service 0.75 h",
                "Engine oil 5W-30 4.5 l",
                "Oil filter 1 pc",
                "Seal kit 1 set",
                "Tape 2 roll",
            ),
        ),
        (
            "de",
            (
                "Oil service 0.75 h",
                "Engine oil 5W-30 4.5 l",
                "Oil filter 1 Stk",
                "Seal kit 1 Satz",
                "Tape 2 roll",
            ),
        ),
    ],
)
async def test_a_completed_job_invoices_each_quantity_with_its_unit_on_the_page_and_the_pdf(
    client, factory, tmp_path, language, shown
):
    """'4.5' of engine oil could be litres or cans: the invoice says which, from the part's unit as it
    was at completion (the snapshot), hours for labour; in the customer's words for the known units, a
    unit of the dealership's own as it was entered."""
    shop = await factory.tenant()
    viewer = await shop.user("viewer", locale=language)
    oil = await add_part(shop, "OIL-5W30", "Engine oil 5W-30", on_hand="20", unit="l")
    filter_ = await add_part(shop, "OF-1", "Oil filter", on_hand="3")
    work_order = await shop.work_order(status="QUALITY_CHECK")
    await _customer_reads(shop, work_order, language)
    await add_line(shop, work_order, description="Oil service", quantity="0.75", unit_price="165.00")
    await add_line(
        shop,
        work_order,
        kind="PART",
        description="Engine oil 5W-30",
        part=oil,
        quantity="4.5",
        unit_price="7.45",
    )
    await add_line(
        shop,
        work_order,
        kind="PART",
        description="Oil filter",
        part=filter_,
        quantity="1",
        unit_price="18.90",
    )
    for sku, name, unit, quantity in (("SK-1", "Seal kit", "set", "1"), ("TP-1", "Tape", "roll", "2")):
        part = await add_part(shop, sku, name, on_hand="5", unit=unit)
        await add_line(
            shop, work_order, kind="PART", description=name, part=part, quantity=quantity, unit_price="9.00"
        )
    await move(shop, work_order, "READY")
    async with shop.db.read(shop.id) as session:
        invoice = (await session.scalars(select(Invoice).where(Invoice.work_order_id == work_order.id))).one()
    # A later change of the part's unit does not change what was invoiced.
    async with shop.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(update(Part).where(Part.id == oil.id).values(unit="can"))
        await uow.commit()
    await sign_in(client, viewer.email)

    page = text_of(await (await client.get(f"/workshop/invoices/{invoice.id}")).get_data(as_text=True))
    body = await (await client.get(f"/workshop/invoices/{invoice.id}.pdf")).get_data()
    pdf = tmp_path / "units.pdf"
    pdf.write_bytes(body)
    pdf_text = " ".join((await poppler("pdftotext", "-layout", str(pdf), "-")).split())

    for text in (page, pdf_text):
        for expected in (*shown, "Tape 2 roll"):
            assert expected in text, expected
        assert "4.5 can" not in text


# The invoice's words in the customer's language, and the ones of the other languages that must not show.
CUSTOMER_WORDS = {
    "fr": (
        ("Facture", "Facturé à", "Numéro de facture", "Délai de paiement 30 jours", "Échéance", "Plaque :"),
        ("Main-d\u2019œuvre", "Kilométrage : 48", "Page 1 sur 1", "TVA 8,1 %"),
    ),
    # A language without a catalog: English, not German nor a page of two languages.
    "es": (
        ("Invoice", "Bill to", "Invoice number", "Payment terms 30 days", "Due date", "Plate:"),
        ("Labour", "Odometer: 48", "Page 1 of 1", "VAT 8.1 %"),
    ),
}
OTHER_WORDS = ("Rechnung", "Zahlungsfrist", "Kontrollschild", "Arbeit", "Seite")


@pytest.mark.parametrize("language", CUSTOMER_WORDS)
async def test_the_pdf_is_in_the_customers_language_whoever_downloads_it(client, factory, tmp_path, language):
    """A French customer handed a German invoice (because a German-speaking advisor printed it) cannot
    read what they are asked to pay; the PDF is the customer's document."""
    shop = await factory.tenant(country="CH")
    advisor = await shop.user("service_advisor", locale="de")
    _job, invoice = await _invoiced_job(shop, language)
    await sign_in(client, advisor.email)

    body = await (await client.get(f"/workshop/invoices/{invoice.id}.pdf")).get_data()

    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(body)
    text = " ".join((await poppler("pdftotext", "-layout", str(pdf), "-")).split())
    for expected in (*CUSTOMER_WORDS[language][0], *CUSTOMER_WORDS[language][1]):
        assert expected.replace("\xa0", " ") in text.replace("\xa0", " "), expected
    for german in OTHER_WORDS:
        assert german not in text, german
    info = await poppler("pdfinfo", str(pdf))
    assert re.search(r"Title:\s+" + re.escape(CUSTOMER_WORDS[language][0][0]) + " INV-", info), info


async def test_the_page_shows_the_customers_invoice_inside_the_advisors_page(client, factory):
    """Printed from the page, the invoice is the customer's too; the payment desk around it stays the
    advisor's."""
    shop = await factory.tenant(country="CH")
    advisor = await shop.user("service_advisor", locale="de")
    _job, invoice = await _invoiced_job(shop, "fr")
    await sign_in(client, advisor.email)

    html = await (await client.get(f"/workshop/invoices/{invoice.id}")).get_data(as_text=True)

    assert '<html lang="de-CH">' in html
    assert '<article class="invoice" lang="fr-CH"' in html
    article = html[html.index('<article class="invoice"') : html.index("</article>")]
    rest = html.replace(article, "")
    for french in ("Facturé à", "Numéro de facture", "Délai de paiement", "Main-d\u2019œuvre"):
        assert french in article, french
    assert "Rechnung" not in article and "Zahlungsfrist" not in article
    for german in ("PDF herunterladen", "Drucken", '<h2 id="invoice-payment-title">Zahlung</h2>'):
        assert german in rest, german


def _word_boxes(bbox_html: str) -> list[tuple[str, float, float, float, float]]:
    """Each word of pdftotext -bbox as (text, x min, y min, x max, y max), in points from the top left."""
    return [
        (text, float(x0), float(y0), float(x1), float(y1))
        for x0, y0, x1, y1, text in re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', bbox_html
        )
    ]


def _overlap(a: tuple[str, float, float, float, float], b: tuple[str, float, float, float, float]) -> bool:
    # A fraction of a point is the fonts' ascent and descent touching, not text over text.
    slack = 0.5
    return min(a[3], b[3]) - max(a[1], b[1]) > slack and min(a[4], b[4]) - max(a[2], b[2]) > slack


async def test_a_long_name_and_address_never_run_into_the_other_blocks(client, factory, tmp_path):
    """A company with a long name, a person with a double name and an address of several parts: the
    recipient block wraps in its column and the table starts below it; the garage's long name never runs
    under the title."""
    shop = await factory.tenant(country="CH")
    async with shop.db.system(write=True) as session:
        await session.execute(
            update(Tenant)
            .where(Tenant.id == shop.id)
            .values(
                name="Garage Zürichsee Automobile und Nutzfahrzeuge AG Wädenswil",
                street="Seestrasse 41",
                postal_code="8820",
                city="Wädenswil",
                vat_number="CHE-123.456.788 MWST",
            )
        )
        await session.commit()
    work_order = await shop.work_order(status="IN_PROGRESS")
    await _customer_reads(
        shop,
        work_order,
        "de",
        company_name="Internationale Transport- und Logistikgesellschaft Müller-Lüdenscheidt & Söhne GmbH",
        first_name="Maximiliane Alexandra",
        last_name="Müller-Lüdenscheidt-Brandenburger",
        email="maximiliane.alexandra.mueller-luedenscheidt@transport-logistik-international.example.ch",
        phone="+41791234567",
        address_line="Industriestrasse 123, Gebäude C, 4. Stock, Postfach 4711",
        postal_code="8952",
        city="Schlieren-Zürich Industriequartier",
    )
    invoice = await make_invoice(shop, work_order, LINES)
    await sign_in(client, (await shop.user("service_advisor", locale="de")).email)

    pdf = tmp_path / "long.pdf"
    pdf.write_bytes(await (await client.get(f"/workshop/invoices/{invoice.id}.pdf")).get_data())
    words = _word_boxes(await poppler("pdftotext", "-f", "1", "-l", "1", "-bbox", str(pdf), "-"))

    overlapping = [(a[0], b[0]) for i, a in enumerate(words) for b in words[i + 1 :] if _overlap(a, b)]
    assert overlapping == []

    def box(*texts: str) -> tuple[float, float, float, float]:
        # Each word where it first stands: the garage's name comes again in the footer.
        chosen = [next(word for word in words if word[0] == text) for text in texts]
        return (
            min(w[1] for w in chosen),
            min(w[2] for w in chosen),
            max(w[3] for w in chosen),
            max(w[4] for w in chosen),
        )

    bill_to = box("Rechnungsadresse", "Industriequartier", "67")
    vehicle = box("Fahrzeug", "Kilometerstand:")
    facts = box("Rechnungsnummer", "Zahlbar")
    title = box("Rechnung")
    table = box("Beschreibung")
    dealership_name = box("Nutzfahrzeuge")
    # The table starts below the longest column, the recipient's.
    assert table[1] > bill_to[3] > vehicle[3]
    assert table[1] > facts[3]
    # The columns stand side by side, each within its own width.
    assert bill_to[2] < vehicle[0] and vehicle[2] < facts[0]
    # The garage's name wrapped to the left of the title.
    assert dealership_name[2] < title[0]


async def test_an_ordinary_email_address_stands_whole_in_its_column(client, factory, tmp_path):
    """An address has no space to wrap at: it is set a little smaller rather than cut at its last
    letters ('…@exampl' above 'e.ch')."""
    shop = await factory.tenant(country="CH")
    work_order = await shop.work_order(status="IN_PROGRESS")
    await _customer_reads(shop, work_order, "de", email="olivia.zimmermann30@example.ch")
    invoice = await make_invoice(shop, work_order, LINES)
    await sign_in(client, (await shop.user("service_advisor", locale="de")).email)

    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(await (await client.get(f"/workshop/invoices/{invoice.id}.pdf")).get_data())
    words = [word[0] for word in _word_boxes(await poppler("pdftotext", "-bbox", str(pdf), "-"))]

    assert "olivia.zimmermann30@example.ch" in words


async def test_the_pdf_has_no_text_put_together_from_pieces(client, factory, tmp_path):
    """Each text of the PDF is one message with placeholders, so a translation can order and punctuate
    it as its language does (French writes «Plaque : ZH 123»); pieces glued together in code kept the
    English order and colon, and a page count that was never translated."""
    shop = await factory.tenant(country="CH")
    _job, invoice = await _invoiced_job(shop, "de")
    await sign_in(client, (await shop.user("service_advisor", locale="de")).email)

    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(await (await client.get(f"/workshop/invoices/{invoice.id}.pdf")).get_data())

    text = " ".join((await poppler("pdftotext", "-layout", str(pdf), "-")).split())
    for expected in (
        "Kontrollschild: ZH",
        "Fahrgestellnummer: ",
        f"Kilometerstand: 48{SWISS_THOUSANDS}213 km",
    ):
        assert expected in text, expected
    assert "Seite 1 von 1" in text
    assert re.search(r"Title:\s+Rechnung INV-000001", await poppler("pdfinfo", str(pdf)))
