"""The invoice as an A4 PDF, drawn with fpdf2 (pure Python) in DejaVu Sans so umlauts print.

DejaVu comes from Debian's fonts-dejavu-core, which every machine of this project has (and which
.ci/run installs when it is missing); the fonts are embedded as subsets, so the PDF reads the same
everywhere. Text goes through the same translations and Babel formats as the HTML invoice, in the
customer's language (the invoice is theirs, whoever downloads it).
"""

from __future__ import annotations

import logging
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from ops.customers.service import format_phone
from ops.i18n import format_date, format_money, format_number, language_of, ngettext
from ops.i18n import gettext as _
from ops.mail.service import written_for
from ops.workshop.invoices.queries import InvoiceDocument, customer_locale
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

    def text_block(
        self, x: float, y: float, w: float, lines: list[str], *, heading: str | None = None
    ) -> float:
        """Lines wrapped at word boundaries inside `w`, from (x, y); returns where the block ends, so
        what follows starts below it and never over it. A single word too wide for `w` (a long e-mail
        address) is set smaller to fit, down to a size still read easily, and split only below that."""
        self.set_xy(x, y)
        if heading:
            self.set_font(FONT, "B", 9)
            self.set_text_color(*MUTED)
            self.multi_cell(w, 5, heading, align="L", new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.set_font(FONT, "", 9.5)
        self.set_text_color(*INK)
        for text in lines:
            size = 9.5
            if " " not in text.strip():
                fits = (w - 2 * self.c_margin) / max(self.get_string_width(text), 0.01) * size
                size = max(7.0, min(size, fits))
            self.set_font_size(size)
            self.multi_cell(w, 5, text, align="L", new_x=XPos.LEFT, new_y=YPos.NEXT)
            self.set_font_size(9.5)
        return self.get_y()

    def facts_block(self, x: float, y: float, w: float, facts: list[tuple[str, str]]) -> float:
        """Label and value pairs, the value right-aligned at its full width and the label wrapping in
        the room left beside it; each pair starts below the taller half of the one before."""
        self.set_font(FONT, "B", 9.5)
        # A cell keeps its margin on either side of the text: without it the value would wrap.
        widest = max(self.get_string_width(value) for _label, value in facts) + 2 * self.c_margin + 0.5
        value_width = min(widest, w * 0.6)
        for label, value in facts:
            self.set_xy(x, y)
            self.set_font(FONT, "", 9)
            self.set_text_color(*MUTED)
            self.multi_cell(w - value_width - 2, 5, label, align="L", new_x=XPos.LEFT, new_y=YPos.NEXT)
            label_end = self.get_y()
            self.set_xy(x + w - value_width, y)
            self.set_font(FONT, "B", 9.5)
            self.set_text_color(*INK)
            self.multi_cell(value_width, 5, value, align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
            y = max(label_end, self.get_y())
        self.set_text_color(*INK)
        return y


def render_invoice_pdf(invoice: InvoiceDocument) -> bytes:
    """The PDF bytes, in the customer's language whoever downloads it: it is the customer's document."""
    with written_for(customer_locale(invoice), invoice.timezone, invoice.currency):
        return _draw(invoice)


def _draw(invoice: InvoiceDocument) -> bytes:
    pdf = _InvoicePdf(f"{invoice.dealership} · {invoice.code}")
    pdf.set_title(_("Invoice %(number)s", number=invoice.code))
    pdf.set_author(invoice.dealership)
    pdf.set_creator("Pitwall")
    pdf.set_lang(language_of(customer_locale(invoice)))
    pdf.add_page()
    width = pdf.epw
    left, top = pdf.l_margin, pdf.get_y()

    # The title on the right; the garage's name wraps in the room left of it rather than running under it.
    title = _("Invoice")
    pdf.set_font(FONT, "B", 20)
    title_width = pdf.get_string_width(title) + 2
    pdf.set_text_color(*INK)
    pdf.set_xy(left + width - title_width, top)
    pdf.cell(title_width, 8, title, align="R")
    pdf.set_xy(left, top)
    pdf.set_font(FONT, "B", 15)
    pdf.multi_cell(
        width - title_width - 6, 8, invoice.dealership, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    # The sender of a Swiss VAT invoice: its address and its VAT number (UID with MWST).
    pdf.set_font(FONT, "", 9)
    pdf.set_text_color(*MUTED)
    for sender_line in (*invoice.dealership_address, invoice.dealership_vat_number):
        if sender_line:
            pdf.multi_cell(width / 2, 4.5, sender_line, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
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
    # Three columns side by side, the facts the widest so that their labels mostly fit on one line;
    # the table starts below the longest of them.
    top = pdf.get_y()
    bill_to, vehicle_width = width * 0.34, width * 0.30
    bottom = max(
        pdf.text_block(left, top, bill_to - 4, customer, heading=_("Bill to")),
        pdf.text_block(left + bill_to, top, vehicle_width - 4, vehicle, heading=_("Vehicle")),
        pdf.facts_block(left + bill_to + vehicle_width, top, width - bill_to - vehicle_width, facts),
    )
    pdf.set_xy(left, bottom + 8)

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
