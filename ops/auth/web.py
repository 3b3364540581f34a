"""Sign-in, sign-out, and the request plumbing every page relies on: the current actor and CSRF."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

from babel import Locale
from quart import Blueprint, abort, g, redirect, request, session, url_for
from quart.typing import ResponseReturnValue

from ops.auth.actor import Actor, RuleViolation
from ops.auth.service import (
    SignInRefused,
    actor_for_session,
    change_own_language,
    change_own_password,
    own_account,
    sign_in,
    sign_out,
)
from ops.i18n import current_locale, locale_for, ngettext
from ops.i18n import gettext as _
from ops.pages import flash_message, render_page
from ops.runtime import runtime
from ops.tenants.models import Tenant

bp = Blueprint("auth", __name__)

P = ParamSpec("P")
R = TypeVar("R")
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Partner endpoints authenticate by signature or token, not by cookie, so CSRF does not apply.
CSRF_EXEMPT_PREFIXES = ("/hooks/", "/api/")
# The languages staff choose for their pages (Settings > Users and Your account), each named in itself:
# English, the source, and German, whose catalog covers every page. The French and Italian catalogs
# translate only what customers read (ops/i18n.py): a staff page in French would be mostly English.
STAFF_LANGUAGES = (("en", "English"), ("de", "Deutsch"))


def csrf_token() -> str:
    seed = session.get("csrf")
    if not seed:
        seed = secrets.token_urlsafe(16)
        session["csrf"] = seed
    key = runtime().settings.secret_key.encode()
    return hmac.new(key, seed.encode(), hashlib.sha256).hexdigest()


async def load_actor() -> None:
    """Before every request: who is signed in (g.actor, g.tenant), or None."""
    g.actor = None
    g.tenant = None
    token = session.get("sid")
    if token:
        found = await actor_for_session(runtime().db, token)
        if found is None:
            session.pop("sid", None)
        else:
            g.actor, g.tenant = found


async def check_csrf() -> None:
    if request.method in SAFE_METHODS or request.path.startswith(CSRF_EXEMPT_PREFIXES):
        return
    sent = request.headers.get("X-CSRF-Token")
    if sent is None:
        sent = (await request.form).get("csrf_token", "")
    if not session.get("csrf") or not hmac.compare_digest(sent, csrf_token()):
        abort(403, description=_("This form has expired. Reload the page and try again."))


def current_actor() -> Actor:
    actor: Actor | None = g.get("actor")
    if actor is None:
        abort(401)
    return actor


def current_tenant() -> Tenant:
    tenant: Tenant | None = g.get("tenant")
    if tenant is None:
        abort(401)
    return tenant


def login_required(view: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R | ResponseReturnValue]]:
    @wraps(view)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | ResponseReturnValue:
        if g.get("actor") is None:
            if request.headers.get("HX-Request"):
                return "", 401, {"HX-Redirect": url_for("auth.login")}
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return await view(*args, **kwargs)

    return wrapper


def _safe_next(target: str | None) -> str:
    """Only local paths, so the sign-in form cannot be used to redirect elsewhere.

    Browsers read a backslash as a slash and drop tabs and newlines, so `/\\evil.example` and
    `/\\t/evil.example` would leave the site: any backslash or control character is refused too.
    """
    if not target or "\\" in target or any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@bp.route("/login", methods=["GET", "POST"])
async def login() -> Any:
    if request.method == "GET":
        if g.get("actor") is not None:
            return redirect(_safe_next(request.args.get("next")))
        return await render_page("auth/login.html", email="", error=None, next=request.args.get("next", ""))

    form = await request.form
    email = form.get("email", "").strip()
    password = form.get("password", "")
    next_url = form.get("next", "")
    settings = runtime().settings
    limiter = runtime().rate_limiter
    client = request.remote_addr or "unknown"
    # Only refused attempts count, so colleagues signing in from one dealership address are not
    # locked out; a guesser is stopped per address and per email.
    limit_keys = (f"login:ip:{client}", f"login:email:{email.lower()}")
    for key in limit_keys:
        retry_after = await limiter.retry_after(key, settings.login_attempts_per_window)
        if retry_after:
            minutes = max(1, -(-retry_after // 60))
            message = ngettext(
                "Too many sign-in attempts. Try again in %(num)s minute.",
                "Too many sign-in attempts. Try again in %(num)s minutes.",
                minutes,
            )
            body = await render_page("auth/login.html", email=email, error=message, next=next_url)
            return body, 429, {"Retry-After": str(retry_after)}
    if not email or not password:
        body = await render_page(
            "auth/login.html", email=email, error=_("Enter your email and password."), next=next_url
        )
        return body, 422
    try:
        signed_in = await sign_in(runtime().db, email, password, request.headers.get("User-Agent", ""))
    except SignInRefused as refused:
        for key in limit_keys:
            await limiter.count(key, settings.login_window_seconds)
        body = await render_page("auth/login.html", email=email, error=str(refused), next=next_url)
        return body, 401
    # A fresh session and CSRF seed at sign-in (no session fixation); an earlier sign-in in this
    # browser ends on the server too, so its cookie cannot be replayed.
    earlier = session.get("sid")
    if earlier:
        await sign_out(runtime().db, earlier)
    session.clear()
    session["sid"] = signed_in.token
    session["csrf"] = secrets.token_urlsafe(16)
    session.permanent = True
    return redirect(_safe_next(next_url))


@bp.post("/logout")
async def logout() -> Any:
    token = session.get("sid")
    if token:
        await sign_out(runtime().db, token)
    session.clear()
    await flash_message(_("You are signed out."))
    return redirect(url_for("auth.login"))


def language_choices(current: str | None = None) -> list[tuple[str, str]]:
    """The language menu. A language set another way (`pitwall create-user --locale fr`) stays listed
    while it is the user's, so the menu never shows a choice the user did not make."""
    choices = [("", _("The dealership's language")), *STAFF_LANGUAGES]
    if current and current not in dict(STAFF_LANGUAGES):
        choices.append((current, Locale.parse(current).get_display_name(current) or current))
    return choices


ACCOUNT_TEMPLATE = "auth/password.html"


async def _account_page(
    *, language_errors: dict[str, str] | None = None, errors: dict[str, str] | None = None
) -> str:
    account = await own_account(runtime().db, current_actor())
    return await render_page(
        ACCOUNT_TEMPLATE,
        subject=None,
        account_locale=account.locale or "",
        languages=language_choices(account.locale),
        language_errors=language_errors or {},
        errors=errors or {},
    )


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
async def password() -> Any:
    """Your account: any signed-in user chooses their language and changes their own password. The
    address is older than the language and stays, as links and bookmarks point to it."""
    actor = current_actor()
    if request.method == "GET":
        return await _account_page()
    settings, limiter = runtime().settings, runtime().rate_limiter
    # Someone at an unlocked screen must not be able to try passwords until one fits.
    limit_key = f"password:user:{actor.user_id}"
    retry_after = await limiter.retry_after(limit_key, settings.login_attempts_per_window)
    if retry_after:
        message = _("Too many wrong passwords. Try again later.")
        body = await _account_page(errors={"current_password": message})
        return body, 429, {"Retry-After": str(retry_after)}
    form = await request.form
    try:
        await change_own_password(
            runtime().db,
            actor,
            current=form.get("current_password", ""),
            new=form.get("new_password", ""),
            repeated=form.get("repeated_password", ""),
            session_token=session["sid"],
        )
    except RuleViolation as error:
        if error.field == "current_password":
            await limiter.count(limit_key, settings.login_window_seconds)
        return await _account_page(errors={error.field or "__all__": str(error)}), 422
    await flash_message(
        _("Your password is changed. Any other browser you were signed in with is signed out."), "success"
    )
    return redirect(url_for("auth.password"), 303)


@bp.post("/account/language")
@login_required
async def language() -> Any:
    """Any signed-in user chooses the language of their pages; the next page is in it."""
    actor = current_actor()
    chosen = (await request.form).get("locale", "")
    try:
        async with runtime().db.uow(actor) as uow:
            await change_own_language(uow, chosen or None)
    except RuleViolation as error:
        return await _account_page(language_errors={"locale": str(error)}), 422
    # Said in the language just chosen, as the page it lands on will be.
    tenant = current_tenant()
    current_locale.set(locale_for(chosen or tenant.locale, tenant.country))
    await flash_message(_("Your language is saved."), "success")
    return redirect(url_for("auth.password"), 303)
