"""The invoice as an A4 PDF, drawn with fpdf2 (pure Python) in DejaVu Sans so umlauts print.

DejaVu comes from Debian's fonts-dejavu-core, which every machine of this project has (and which
.ci/run installs when it is missing); the fonts are embedded as subsets, so the PDF reads the same
everywhere. Text goes through the same translations and Babel formats as the HTML invoice.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from ops.customers.service import format_phone
from ops.i18n import format_date, format_money, format_number, ngettext
from ops.i18n import gettext as _
from ops.workshop.invoices.queries import InvoiceDocument
from ops.workshop.parts.service import unit_label

# fontTools reports every glyph it keeps when it subsets a font: noise in the server's log.
logging.getLogger("fontTools").setLevel(logging.WARNING)

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
FONT = "DejaVu"
INK = (29, 35, 48)
MUTED = (93, 102, 119)
RULE = (217, 221, 229)


def _font_file(name: str) -> Path:
    for folder in FONT_DIRS:
        if (folder / name).is_file():
            return folder / name
    raise RuntimeError(f"{name} not found in {', '.join(map(str, FONT_DIRS))}: install fonts-dejavu-core")


class _InvoicePdf(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.footer_text = footer_text
        self.add_font(FONT, "", str(_font_file("DejaVuSans.ttf")))
        self.add_font(FONT, "B", str(_font_file("DejaVuSans-Bold.ttf")))
        self.set_margins(18, 16, 18)
        self.set_auto_page_break(auto=True, margin=20)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(FONT, "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, self.footer_text, align="L")
        # fpdf2 writes the page count where the alias {nb} stands once the last page is drawn.
        page_of = _("Page %(page)s of %(pages)s", page=self.page_no(), pages=self.str_alias_nb_pages)
        self.cell(0, 5, page_of, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def render_invoice_pdf(invoice: InvoiceDocument) -> bytes:
    """The PDF bytes; call it where the request's locale, timezone and currency are set."""
    pdf = _InvoicePdf(f"{invoice.dealership} · {invoice.code}")
    pdf.set_title(_("Invoice %(number)s", number=invoice.code))
    pdf.set_author(invoice.dealership)
    pdf.set_creator("Pitwall")
    pdf.add_page()
    width = pdf.epw

    pdf.set_text_color(*INK)
    pdf.set_font(FONT, "B", 15)
    pdf.cell(width / 2, 8, invoice.dealership)
    pdf.set_font(FONT, "B", 20)
    pdf.cell(width / 2, 8, _("Invoice"), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    # The sender of a Swiss VAT invoice: its address and its VAT number (UID with MWST).
    pdf.set_font(FONT, "", 9)
    pdf.set_text_color(*MUTED)
    for sender_line in (*invoice.dealership_address, invoice.dealership_vat_number):
        if sender_line:
            pdf.cell(width / 2, 4.5, sender_line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*INK)
    pdf.ln(6)

    facts = [
        (_("Invoice number"), invoice.code),
        (_("Date"), format_date(invoice.issued_at)),
        (_("Work order"), invoice.work_order_code),
        (_("Payment terms"), ngettext("%(num)s day", "%(num)s days", invoice.payment_terms_days)),
        (_("Due date"), format_date(invoice.due_at)),
    ]
    customer = [
        line
        for line in (
            invoice.customer_company,
            invoice.customer_name,
            *invoice.customer_address,
            invoice.customer_email,
            format_phone(invoice.customer_phone),
        )
        if line
    ] or ["—"]
    vehicle = [
        _("Plate: %(plate)s", plate=invoice.plate or "—"),
        invoice.vehicle,
        _("VIN: %(vin)s", vin=invoice.vin),
    ]
    if invoice.odometer_km is not None:
        vehicle.append(_("Odometer: %(km)s km", km=format_number(invoice.odometer_km, 0)))
    top = pdf.get_y()
    column = width / 3
    for index, (heading, lines) in enumerate(((_("Bill to"), customer), (_("Vehicle"), vehicle))):
        pdf.set_xy(pdf.l_margin + index * column, top)
        if heading:
            pdf.set_font(FONT, "B", 9)
            pdf.set_text_color(*MUTED)
            pdf.cell(column - 4, 5, heading, new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_font(FONT, "", 9.5)
        pdf.set_text_color(*INK)
        for text in lines:
            pdf.multi_cell(column - 4, 5, text, new_x=XPos.LEFT, new_y=YPos.NEXT)
    bottom = pdf.get_y()
    pdf.set_xy(pdf.l_margin + 2 * column, top)
    for label, value in facts:
        pdf.set_font(FONT, "", 9)
        pdf.set_text_color(*MUTED)
        pdf.cell(column * 0.5, 5, label)
        pdf.set_font(FONT, "B", 9.5)
        pdf.set_text_color(*INK)
        pdf.cell(column * 0.5, 5, value, align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_x(pdf.l_margin + 2 * column)
    pdf.set_y(max(bottom, pdf.get_y()) + 8)

    heading_style = FontFace(emphasis="BOLD", color=MUTED, fill_color=(244, 245, 247))
    pdf.set_font(FONT, "", 9.5)
    pdf.set_draw_color(*RULE)
    with pdf.table(
        col_widths=(50, 14, 14, 14),
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"),
        headings_style=heading_style,
        borders_layout="HORIZONTAL_LINES",
        line_height=5,
        padding=(1.2, 1.5),
        repeat_headings=1,
    ) as table:
        table.row([_("Description"), _("Qty / hours"), _("Unit price"), _("Net")])
        for line in invoice.lines:
            table.row(
                [
                    line.description,
                    f"{format_number(line.quantity)} {unit_label(line.unit)}",
                    format_money(line.unit_price, invoice.currency),
                    format_money(line.net, invoice.currency),
                ]
            )

    pdf.ln(4)
    totals = [
        (_("Labour"), format_money(invoice.labour_net, invoice.currency), False),
        (_("Parts"), format_money(invoice.parts_net, invoice.currency), False),
        (_("Net"), format_money(invoice.net, invoice.currency), False),
        (
            _("VAT %(rate)s %%", rate=format_number(invoice.vat_rate)),
            format_money(invoice.vat, invoice.currency),
            False,
        ),
        (_("Total"), format_money(invoice.total, invoice.currency), True),
    ]
    # The totals stay together: a page break between net and total would be hard to read.
    if pdf.get_y() + 6.5 * len(totals) > pdf.page_break_trigger:
        pdf.add_page()
    label_x = pdf.l_margin + width * 0.55
    for label, amount, strong in totals:
        if strong:
            pdf.set_draw_color(*INK)
            pdf.line(label_x, pdf.get_y() + 0.5, pdf.l_margin + width, pdf.get_y() + 0.5)
            pdf.ln(1.5)
        pdf.set_x(label_x)
        pdf.set_font(FONT, "B" if strong else "", 11 if strong else 9.5)
        pdf.cell(width * 0.25, 6.5, label)
        pdf.cell(width * 0.20, 6.5, amount, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())
