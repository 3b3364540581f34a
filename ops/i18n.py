"""Translations and Babel formatting, keyed by a per-task locale so live renders can use any locale.

Catalogs are the `.po` files under ops/translations, compiled in memory at start-up: the `.po` is the
only source of truth and no binary `.mo` is committed.
"""

from __future__ import annotations

import io
from contextvars import ContextVar
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime as babel_format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from babel.support import NullTranslations, Translations

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
SUPPORTED_LOCALES = ("en", "de", "de_CH", "fr", "it")

current_locale: ContextVar[str] = ContextVar("current_locale", default="en")
current_timezone: ContextVar[str] = ContextVar("current_timezone", default="UTC")
current_currency: ContextVar[str] = ContextVar("current_currency", default="USD")


def normalise_locale(value: str | None) -> str:
    """`de-CH` -> `de_CH`; unknown values fall back to English."""
    if not value:
        return "en"
    value = value.replace("-", "_")
    if value in SUPPORTED_LOCALES:
        return value
    language = value.split("_")[0]
    return language if language in SUPPORTED_LOCALES else "en"


@cache
def translations_for(locale: str) -> NullTranslations:
    language = locale.split("_")[0]
    po_path = TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.po"
    if not po_path.exists():
        return NullTranslations()
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)


def gettext(message: str, **values: object) -> str:
    text = translations_for(current_locale.get()).gettext(message)
    return text % values if values else text


def ngettext(singular: str, plural: str, n: int, **values: object) -> str:
    text = translations_for(current_locale.get()).ngettext(singular, plural, n)
    return text % {"num": n, **values}


_ = gettext


def format_money(amount: Decimal, currency: str | None = None) -> str:
    return format_currency(amount, currency or current_currency.get(), locale=current_locale.get())


def format_datetime(value: datetime | None, format: str = "short") -> str:
    if value is None:
        return ""
    return babel_format_datetime(
        value, format=format, tzinfo=ZoneInfo(current_timezone.get()), locale=current_locale.get()
    )


def locale_display_name(locale: str) -> str:
    return Locale.parse(locale).get_display_name(current_locale.get()) or locale
