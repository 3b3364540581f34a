"""Reading a list page's query string: the page asked for and the list's filters.

A list's address is bookmarked and shared, so a value that makes no sense (a typo, a status that no
longer exists, a page past the end) is read as no filter or the first page, never as an error.
"""

from __future__ import annotations

from collections.abc import Collection

from quart import request

MAX_PAGE_NUMBER = 1_000_000


def page_number() -> int:
    """The `page` argument; 1 when it is missing or not a whole number."""
    try:
        return max(1, min(int(request.args.get("page") or 1), MAX_PAGE_NUMBER))
    except ValueError:
        return 1


def text_filter(name: str, max_length: int) -> str:
    """A free-text filter, trimmed and cut to the length a search can use."""
    return (request.args.get(name) or "").strip()[:max_length]


def choice_filter(name: str, allowed: Collection[str], default: str = "") -> str:
    """One of the `allowed` values, or `default` for anything else."""
    value = (request.args.get(name) or "").strip()
    return value if value in allowed else default
