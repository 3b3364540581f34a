"""Rendering helpers shared by every area: pages, fragments of the same template, flashes, forms."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from jinja2 import Environment
from jinja2_fragments.quart import render_block
from pydantic import BaseModel, ValidationError
from quart import flash, render_template, request

from ops.i18n import gettext as _

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


def kept_on_environment(make: Callable[[Environment], T]) -> Callable[[Environment], T]:
    """`make(env)` once per template environment, kept on that environment so it lives and dies with
    its app. A module-level cache keyed by the environment kept every app a process made alive (the
    test suite's process grew to 4 GB)."""
    name = f"_kept_{make.__module__}.{make.__qualname__}"

    @wraps(make)
    def kept(env: Environment) -> T:
        made: T | None = env.__dict__.get(name)
        if made is None:
            made = make(env)
            setattr(env, name, made)
        return made

    return kept


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


async def render_page(template: str, **context: Any) -> str:
    return await render_template(template, **context)


async def render_fragment(template: str, block: str, **context: Any) -> str:
    """One block of a page template: the fragment and the page cannot drift apart."""
    return await render_block(template, block, **context)


async def posted_form() -> dict[str, str]:
    """The posted form's fields; the CSRF token was checked before the view ran and is not one of them."""
    return {key: value for key, value in (await request.form).items() if key != "csrf_token"}


async def flash_message(message: str, category: str = "info") -> None:
    await flash(message, category)


def _message_for(error: dict[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if error.get("input") is None and kind in {"missing", "string_type", "int_type", "datetime_type"}:
        return _("This field is required.")
    if kind in {"missing", "string_too_short"} and ctx.get("min_length", 1) <= 1:
        return _("This field is required.")
    if kind == "string_too_short":
        return _("Use at least %(min)s characters.", min=ctx["min_length"])
    if kind == "string_too_long":
        return _("Use at most %(max)s characters.", max=ctx["max_length"])
    if kind in {"int_parsing", "int_type"}:
        return _("Enter a whole number.")
    if kind in {"literal_error", "enum"}:
        return _("Choose one of the options.")
    if kind.startswith("datetime"):
        return _("Enter a date and time.")
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return _("This value is not valid.")


def parse_form(model: type[M], data: dict[str, Any]) -> tuple[M | None, dict[str, str]]:
    """Validate form input; on failure, a message per field to show next to it."""
    cleaned = {key: (value if value != "" else None) for key, value in data.items()}
    try:
        return model.model_validate(cleaned), {}
    except ValidationError as error:
        errors: dict[str, str] = {}
        for item in error.errors():
            field = str(item["loc"][0]) if item["loc"] else "__all__"
            errors.setdefault(field, _message_for(dict(item)))
        return None, errors
