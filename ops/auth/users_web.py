"""Settings > Users: a tenant admin adds users, changes their roles, deactivates and reactivates them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from quart import Blueprint, redirect, request, url_for

from ops.auth.actor import ROLES, RuleViolation, role_label
from ops.auth.live import USERS_TOPIC
from ops.auth.models import User
from ops.auth.service import (
    InvalidUser,
    change_role,
    check_password_pair,
    create_user,
    hash_password_off_loop,
    set_password,
    set_user_active,
    tenant_user,
    user_directory,
)
from ops.auth.web import current_actor, language_choices, login_required
from ops.db import UnitOfWork
from ops.i18n import gettext as _
from ops.list_filters import page_number
from ops.mail.service import sign_in_url
from ops.pages import flash_message, is_htmx, render_fragment, render_page
from ops.runtime import runtime

bp = Blueprint("users", __name__, url_prefix="/settings/users")


USERS_TEMPLATE = "auth/users.html"


async def _context() -> dict[str, Any]:
    # Taken before the list is read: an update committed in between is sent again, never missed.
    live_id = runtime().hub.current_id()
    directory = await user_directory(runtime().db, current_actor(), page=page_number())
    return {
        "directory": directory,
        "roles": [(role, role_label(role)) for role in ROLES],
        "live_id": live_id,
        "live_topics": [USERS_TOPIC],
    }


async def _page(*, form: dict[str, str] | None = None, errors: dict[str, str] | None = None) -> str:
    return await render_page(
        USERS_TEMPLATE,
        **await _context(),
        languages=language_choices(),
        form=form or {"role": "viewer"},
        errors=errors or {},
    )


@bp.get("")
@login_required
async def index() -> Any:
    current_actor().require("user.manage")
    if is_htmx():
        # The list's live re-fetch, after another administrator added or changed a user.
        return await render_fragment(USERS_TEMPLATE, "user_list", **await _context())
    return await _page()


@bp.post("")
@login_required
async def create() -> Any:
    actor = current_actor()
    actor.require("user.manage")
    form = await request.form
    values = {name: form.get(name, "") for name in ("name", "email", "role", "locale")}
    try:
        async with runtime().db.uow(actor) as uow:
            user = await create_user(
                uow,
                email=values["email"],
                name=values["name"],
                role=values["role"],
                password=form.get("password", ""),
                locale=values["locale"] or None,
                sign_in_url=sign_in_url(runtime().settings.public_url),
            )
    except InvalidUser as invalid:
        return await _page(form=values, errors=invalid.errors), 422
    except RuleViolation as error:
        return await _page(form=values, errors={error.field or "__all__": str(error)}), 422
    await flash_message(
        _("%(name)s can sign in now as %(role)s.", name=user.name, role=role_label(user.role)), "success"
    )
    return redirect(url_for("users.index"), 303)


@bp.post("/<int:user_id>/role")
@login_required
async def change(user_id: int) -> Any:
    role = (await request.form).get("role", "")
    return await _apply(
        lambda uow: change_role(uow, user_id, role),
        lambda user: _("%(name)s is now %(role)s.", name=user.name, role=role_label(user.role)),
    )


@bp.post("/<int:user_id>/deactivate")
@login_required
async def deactivate(user_id: int) -> Any:
    return await _apply(
        lambda uow: set_user_active(uow, user_id, False),
        lambda user: _("%(name)s is deactivated and signed out everywhere.", name=user.name),
    )


@bp.post("/<int:user_id>/reactivate")
@login_required
async def reactivate(user_id: int) -> Any:
    return await _apply(
        lambda uow: set_user_active(uow, user_id, True),
        lambda user: _("%(name)s can sign in again.", name=user.name),
    )


@bp.route("/<int:user_id>/password", methods=["GET", "POST"])
@login_required
async def password(user_id: int) -> Any:
    """An admin sets a new password for a user who forgot theirs."""
    actor = current_actor()
    user = await tenant_user(runtime().db, actor, user_id)
    if request.method == "GET":
        return await render_page("auth/password.html", subject=user, errors={})
    form = await request.form
    new = form.get("new_password", "")
    try:
        check_password_pair(new, form.get("repeated_password", ""), field="new_password")
        new_hash = await hash_password_off_loop(new)
        async with runtime().db.uow(actor) as uow:
            await set_password(uow, user_id, new_hash)
    except RuleViolation as error:
        body = await render_page(
            "auth/password.html", subject=user, errors={error.field or "__all__": str(error)}
        )
        return body, 422
    await flash_message(
        _(
            "%(name)s has a new password and is signed out everywhere. Hand it over in person.",
            name=user.name,
        ),
        "success",
    )
    return redirect(url_for("users.index"), 303)


async def _apply(change: Callable[[UnitOfWork], Awaitable[User]], success: Callable[[User], str]) -> Any:
    """Run one change to a listed user; the answer is the list again with what happened on top."""
    try:
        async with runtime().db.uow(current_actor()) as uow:
            user = await change(uow)
    except RuleViolation as error:
        await flash_message(str(error), "error")
        return redirect(url_for("users.index"), 303)
    await flash_message(success(user), "success")
    return redirect(url_for("users.index"), 303)
