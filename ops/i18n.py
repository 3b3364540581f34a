"""Translations and Babel formatting, keyed by a per-task locale so live renders can use any locale.

A locale here is a person's language with the dealership's region: an English-speaking user of a Swiss
tenant reads English text with Swiss dates and money (`en_CH`: 4 Mar 2030, CHF 1'234.50), a German one
`de_CH`. `locale_for` is the one rule for it, from the user's (or else the tenant's) locale and the
tenant's country; requests and live renders (ops/app.py) set its result in `current_locale`, together
with the tenant's timezone and currency.

Catalogs are the `.po` files under ops/translations, compiled in memory on first use: the `.po` is the
only source of truth and no binary `.mo` is committed. English is the source language, so it has no
catalog: an identity catalog would only be one more file to keep in step. After changing or adding text,
from the repository root:

    .venv/bin/pybabel extract -F ops/translations/babel.cfg --add-comments=Translators: \
        --project=Pitwall --copyright-holder=Pitwall -o ops/translations/messages.pot .
    .venv/bin/pybabel update -i ops/translations/messages.pot -d ops/translations --ignore-obsolete

then translate what is new or fuzzy in ops/translations/de/LC_MESSAGES/messages.po (tests/test_i18n.py
fails while a message is untranslated or fuzzy). The French and Italian catalogs (fr, it) cover what a
dealership's customers read: the public estimate page and its mail, the invoice and its PDF
(tests/test_i18n.py fails while one of their messages is untranslated there); staff pages in fr or it
read English where a message has no translation, with the language's formats.
"""

from __future__ import annotations

import io
from contextvars import ContextVar
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale, localedata
from babel.core import parse_locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.dates import format_time as babel_format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from babel.numbers import format_decimal as babel_format_decimal
from babel.numbers import format_percent as babel_format_percent
from babel.support import NullTranslations, Translations

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
# What a user or tenant may choose as their locale.
SUPPORTED_LOCALES = ("en", "de", "de_CH", "fr", "it")
# The languages pages are shown in: English, the source, and each language with a catalog. A choice of
# another language reads English rather than a page of two languages. German is complete; French and
# Italian translate the customer-facing pages, so staff who choose them read mostly English with French
# or Italian dates and numbers.
SOURCE_LANGUAGE = "en"
LANGUAGES = (SOURCE_LANGUAGE, "de", "fr", "it")

current_locale: ContextVar[str] = ContextVar("current_locale", default=SOURCE_LANGUAGE)
current_timezone: ContextVar[str] = ContextVar("current_timezone", default="UTC")
current_currency: ContextVar[str] = ContextVar("current_currency", default="USD")


def tenant_today() -> date:
    """Today at the dealership (its timezone, set with the locale), not at the server."""
    return datetime.now(ZoneInfo(current_timezone.get())).date()


def locale_for(preferred: str | None, country: str | None = None) -> str:
    """The locale a person sees: their language, with dates and money as in the dealership's country.

    `("en", "CH")` -> `en_CH`, `("de_CH", "US")` -> `de` (Babel has no German for the US, so the
    language's own formats), `("de-CH", None)` -> `de_CH`, unknown or untranslated -> English.
    """
    try:
        language, territory = parse_locale((preferred or SOURCE_LANGUAGE).replace("-", "_"))[:2]
    except ValueError:
        language, territory = SOURCE_LANGUAGE, None
    if language not in LANGUAGES:
        language = SOURCE_LANGUAGE
    region = (country or territory or "").upper()
    if region and localedata.exists(f"{language}_{region}"):
        return f"{language}_{region}"
    return language


def language_of(locale: str) -> str:
    return locale.partition("_")[0]


@cache
def translations_for(language: str) -> NullTranslations:
    po_path = TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.po"
    if not po_path.exists():
        return NullTranslations()
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)  # fuzzy entries are left out: a guess is not shown as a translation
    buffer.seek(0)
    return Translations(fp=buffer)


def _translations() -> NullTranslations:
    return translations_for(language_of(current_locale.get()))


def gettext(message: str, **values: object) -> str:
    text = _translations().gettext(message)
    return text % values if values else text


def ngettext(singular: str, plural: str, n: int, **values: object) -> str:
    text = _translations().ngettext(singular, plural, n)
    return text % {"num": n, **values}


_ = gettext


def N_(message: str) -> str:
    """Marks text for extraction that is translated later, where it is shown: tables built at import
    time and data such as the default category names (templates show those with `_(name)`)."""
    return message


def template_gettext(message: str) -> str:
    """The bare lookup for Jinja: its newstyle gettext formats the result itself, escaping the values."""
    return _translations().gettext(message)


def template_ngettext(singular: str, plural: str, n: int) -> str:
    return _translations().ngettext(singular, plural, n)


def format_money(amount: Decimal, currency: str | None = None) -> str:
    """An amount in the reader's locale; a negative one (a discount, a refund) has the minus in front of
    it all, in every region: -CHF 1'234.50, -$1,234.50, -1.234,50 EUR.

    Babel's Swiss pattern for negatives puts the sign between symbol and figure (CHF-1'234.50), which
    reads as a hyphenated code; so only the locale's pattern for positive amounts is used, from which
    Babel makes the negative by putting the minus in front.
    """
    locale = Locale.parse(current_locale.get())
    pattern = locale.currency_formats["standard"].pattern.split(";")[0]
    return format_currency(amount, currency or current_currency.get(), format=pattern, locale=locale)


def format_datetime(value: datetime | None, format: str | None = None) -> str:
    """A moment in the tenant's timezone: its day written as `format_date` writes days, then the time of
    day (24.11.2026, 14:05; 24 Nov 2026, 14:05), so a day reads the same with or without its time.
    Babel's own short style wrote the day another way (24.11.26 beside 24.11.2026, 24.11.2026 beside
    24 Nov 2026). `format` is a Babel pattern for a machine's reading (a datetime-local input's value)."""
    if value is None:
        return ""
    timezone, locale = ZoneInfo(current_timezone.get()), current_locale.get()
    if format is not None:
        return babel_format_datetime(value, format=format, tzinfo=timezone, locale=locale)
    local = _aware(value).astimezone(timezone)
    day = babel_format_date(local.date(), format="medium", locale=locale)
    time_of_day = babel_format_time(local, format="short", locale=locale)
    return str(Locale.parse(locale).datetime_formats["medium"]).format(time_of_day, day)


def _aware(value: datetime) -> datetime:
    """A stored moment; one without a timezone is UTC, as Babel reads it."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def format_time(value: datetime | None) -> str:
    """A moment's time of day in the tenant's timezone, as `format_datetime` writes it (14:05, 2:05 PM)."""
    if value is None:
        return ""
    return babel_format_time(
        value, format="short", tzinfo=ZoneInfo(current_timezone.get()), locale=current_locale.get()
    )


def format_span(start: datetime, end: datetime) -> str:
    """A slot, joined by an en dash; its end is only a time of day when it ends on the day it starts
    (4 Mar 2030, 08:30 to 10:30 reads "4 Mar 2030, 08:30" dash "10:30")."""
    timezone = ZoneInfo(current_timezone.get())
    same_day = _aware(start).astimezone(timezone).date() == _aware(end).astimezone(timezone).date()
    return f"{format_datetime(start)}\u2013{format_time(end) if same_day else format_datetime(end)}"


def format_date(value: datetime | date | None, format: str = "medium") -> str:
    """A day (an invoice date, a period's first day); a datetime is read in the tenant's timezone."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(ZoneInfo(current_timezone.get())).date()
    return babel_format_date(value, format=format, locale=current_locale.get())


def format_number(value: Decimal | int, decimals: int = 2) -> str:
    """A quantity or a figure with at most `decimals` places, in the reader's locale (1'234.5)."""
    pattern = "#,##0" + ("." + "#" * decimals if decimals else "")
    return babel_format_decimal(value, format=pattern, locale=current_locale.get())


def format_minutes(minutes: int) -> str:
    """A duration in hours and minutes (1 h 52 min, 45 min): "2 h" read as on target under 2 h."""
    hours, rest = divmod(minutes, 60)
    if hours:
        return gettext("%(hours)s h %(minutes)s min", hours=hours, minutes=rest)
    return gettext("%(minutes)s min", minutes=rest)


def format_percent(ratio: Decimal, decimals: int = 0) -> str:
    """A ratio (0.875) as a percentage in the reader's locale (88 %, 87.5 %)."""
    locale = Locale.parse(current_locale.get())
    pattern = locale.percent_formats[None].pattern
    if decimals:
        pattern = pattern.replace("#,##0", "#,##0." + "0" * decimals, 1)
    return babel_format_percent(ratio, format=pattern, locale=locale)
