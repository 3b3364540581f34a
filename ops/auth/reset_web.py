"""A forgotten password: a signed-out user asks for a link by mail and chooses a new password with it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from quart import Blueprint, current_app, redirect, request, session, url_for

from ops.auth.actor import RuleViolation
from ops.auth.service import (
    PASSWORD_MIN_LENGTH,
    RESET_LINK_VALID_FOR,
    ResetAccountClosed,
    ResetLinks,
    ResetLinkUsed,
    normalise_email,
    open_password_reset,
    request_password_reset,
    reset_password,
    sign_out,
)
from ops.i18n import gettext as _
from ops.i18n import ngettext
from ops.pages import flash_message, render_page
from ops.public_links import LinkExpired, LinkInvalid, private_headers, rate_limited
from ops.runtime import runtime

bp = Blueprint("password_reset", __name__)

FORGOT_TEMPLATE = "auth/forgot_password.html"
CHOOSE_TEMPLATE = "auth/reset_password.html"
UNAVAILABLE_TEMPLATE = "auth/reset_unavailable.html"
# Links one email address may be sent per window, whether it has an account or not (counting only real
# accounts would tell them apart): a second try when the first mail is slow, too few to flood an inbox.
# Per client address, the sign-in form's limit applies.
LINKS_PER_EMAIL = 3
LINKS_PER_EMAIL_WINDOW_SECONDS = 15 * 60


def _links() -> ResetLinks | None:
    """None when the site's public address is not configured: without it a link could only be built
    from the request's Host header, which the client chooses (reset-link poisoning)."""
    settings = runtime().settings
    if not settings.public_url:
        return None
    return ResetLinks(settings.secret_key, settings.public_url)


async def _forgot_page(
    *, email: str = "", error: str | None = None, sent: bool = False, available: bool = True
) -> str:
    return await render_page(
        FORGOT_TEMPLATE,
        email=email,
        error=error,
        sent=sent,
        available=available,
        valid_hours=RESET_LINK_VALID_FOR // timedelta(hours=1),
    )


@bp.route("/password-reset", methods=["GET", "POST"], endpoint="forgot")
async def forgot() -> Any:
    links = _links()
    if links is None:
        return await _forgot_page(available=False)
    if request.method == "GET":
        return await _forgot_page(sent=request.args.get("sent") == "1")

    raw_email = (await request.form).get("email", "").strip()
    try:
        if not raw_email:
            raise RuleViolation(_("Enter your email address."), field="email")
        email = normalise_email(raw_email)
    except RuleViolation as error:
        return await _forgot_page(email=raw_email, error=str(error)), 422
    settings, limiter = runtime().settings, runtime().rate_limiter
    client = request.remote_addr or "unknown"
    limits = (
        (f"reset:ip:{client}", settings.login_attempts_per_window, settings.login_window_seconds),
        (f"reset:email:{email}", LINKS_PER_EMAIL, LINKS_PER_EMAIL_WINDOW_SECONDS),
    )
    for key, limit, _window in limits:
        retry_after = await limiter.retry_after(key, limit)
        if retry_after:
            minutes = max(1, -(-retry_after // 60))
            message = ngettext(
                "Too many requests for a new password. Try again in %(num)s minute.",
                "Too many requests for a new password. Try again in %(num)s minutes.",
                minutes,
            )
            return await _forgot_page(email=raw_email, error=message), 429, {"Retry-After": str(retry_after)}
    for key, _limit, window in limits:
        await limiter.count(key, window)
    # Looked up and mailed after the answer: an unknown address would otherwise be answered a few
    # milliseconds sooner (no row written, no mail rendered), which tells accounts apart over many tries.
    current_app.add_background_task(request_password_reset, runtime().db, email, links=links)
    # Post, redirect, get; the same answer whether or not the address has an account.
    return redirect(url_for("password_reset.forgot", sent="1"), 303)


async def _unavailable(code: int, message: str, *, ask_again: bool) -> Any:
    body = await render_page(UNAVAILABLE_TEMPLATE, message=message, ask_again=ask_again)
    return body, code, private_headers()


@bp.route("/password-reset/<token>", methods=["GET", "POST"], endpoint="choose")
async def choose(token: str) -> Any:
    """The page the mail links to: a new password, twice."""
    limited = await rate_limited(
        "password-reset", UNAVAILABLE_TEMPLATE, _("Too many requests. Please try again in a few minutes.")
    )
    if limited is not None:
        return limited
    # Reading needs only the secret: a link sent before the public address changed still opens.
    links = ResetLinks(runtime().settings.secret_key)
    try:
        link = links.read(token)
        user, _tenant = await open_password_reset(runtime().db, link)
    except LinkInvalid:
        return await _unavailable(
            404, _("This link is not valid. Check that it was copied whole."), ask_again=True
        )
    except LinkExpired:
        return await _unavailable(410, _("This link has expired. Ask for a new one."), ask_again=True)
    except ResetLinkUsed:
        return await _unavailable(410, _used_message(), ask_again=True)
    except ResetAccountClosed:
        return await _unavailable(410, _closed_message(), ask_again=False)

    if request.method == "GET":
        return await _choose_page(token, user.email, {})
    form = await request.form
    try:
        await reset_password(
            runtime().db,
            link,
            new=form.get("new_password", ""),
            repeated=form.get("repeated_password", ""),
        )
    except RuleViolation as error:
        return await _choose_page(token, user.email, {error.field or "__all__": str(error)}, status=422)
    except ResetLinkUsed:
        return await _unavailable(410, _used_message(), ask_again=True)
    except ResetAccountClosed:
        return await _unavailable(410, _closed_message(), ask_again=False)
    # Whoever set the password is at this browser: a session of someone else's here ends too.
    earlier = session.get("sid")
    if earlier:
        await sign_out(runtime().db, earlier)
    session.clear()
    await flash_message(
        _("Your password is changed and you are signed out everywhere. Sign in with the new one."), "success"
    )
    return redirect(url_for("auth.login"), 303)


def _used_message() -> str:
    return _(
        "This link was already used, or the password was changed since it was sent. "
        "Ask for a new link if you still need one."
    )


def _closed_message() -> str:
    return _("This account cannot sign in at the moment. Ask your dealership's administrator.")


async def _choose_page(token: str, email: str, errors: dict[str, str], *, status: int = 200) -> Any:
    body = await render_page(
        CHOOSE_TEMPLATE,
        url=url_for("password_reset.choose", token=token),
        email=email,
        errors=errors,
        min_length=PASSWORD_MIN_LENGTH,
    )
    return body, status, private_headers()
