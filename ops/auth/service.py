"""Passwords, sign-in sessions, user accounts and partner API tokens."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Select, bindparam, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ops.auth.actor import ROLES, Actor, NotFound, RuleViolation
from ops.auth.live import USERS_TOPIC
from ops.auth.models import ApiToken, User, UserSession
from ops.db import Database, UnitOfWork, utcnow
from ops.events import record
from ops.i18n import SUPPORTED_LOCALES
from ops.i18n import gettext as _
from ops.mail.service import queue_password_reset_mail, queue_welcome_mail
from ops.paging import Page
from ops.public_links import LinkInvalid, SignedLinks
from ops.tenants.models import PLANS, Tenant

SESSION_LIFETIME = timedelta(days=14)
NAME_MAX_LENGTH = 120
PASSWORD_MIN_LENGTH = 10
_hasher = PasswordHasher()
# Verified against when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# argon2 spends about 150 ms of CPU per hash on purpose. On the event loop's thread that stalls every
# request and live update of the process for as long (a guesser's wrong passwords would freeze all
# boards); its C code lets go of the GIL, so in a worker thread the loop goes on.


async def hash_password_off_loop(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def verify_password_off_loop(password_hash: str, password: str) -> bool:
    return await asyncio.to_thread(verify_password, password_hash, password)


def check_new_password(password: str, field: str = "password") -> None:
    if len(password) < PASSWORD_MIN_LENGTH:
        raise RuleViolation(
            _("Use a password of at least %(min)s characters.", min=PASSWORD_MIN_LENGTH), field=field
        )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SignedIn:
    token: str
    actor: Actor


class SignInRefused(Exception):
    pass


def normalise_email(value: str) -> str:
    try:
        return validate_email(
            value.strip(), check_deliverability=False, test_environment=True
        ).normalized.lower()
    except EmailNotValidError as error:
        raise RuleViolation(_("Enter a valid email address."), field="email") from error


async def sign_in(db: Database, email: str, password: str, user_agent: str = "") -> SignedIn:
    """Check the password and open a session. The same message for every refusal: no account probing.

    The password is checked outside any transaction: on SQLite a write transaction holds the
    database's one write lock, which every card move would wait for during the hash."""
    refused = SignInRefused(_("Email or password is not correct."))
    async with db.system() as session:
        row = (
            await session.execute(
                select(User, Tenant)
                .join(Tenant, Tenant.id == User.tenant_id)
                .where(func.lower(User.email) == email.strip().lower())
            )
        ).first()
    if row is None:
        await verify_password_off_loop(_DUMMY_HASH, password)
        raise refused
    user, tenant = row
    if not await verify_password_off_loop(user.password_hash, password) or not user.active:
        raise refused
    if tenant.status != "ACTIVE":
        raise SignInRefused(_("This dealership's account is suspended. Contact your administrator."))
    token = secrets.token_urlsafe(32)
    now = utcnow()
    async with db.system(write=True) as session:
        # Guarded by the hash just checked: a password changed or an account deactivated meanwhile
        # refuses this sign-in rather than opening a session the change meant to end.
        still = await session.execute(
            update(User)
            .where(User.id == user.id, User.password_hash == user.password_hash, User.active.is_(True))
            .values(last_login_at=now)
            .execution_options(synchronize_session=False)
        )
        if still.rowcount == 0:  # type: ignore[attr-defined]
            raise refused
        session.add(
            UserSession(
                id=_token_hash(token),
                tenant_id=user.tenant_id,
                user_id=user.id,
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
                user_agent=user_agent[:255],
            )
        )
        await session.commit()
    return SignedIn(token, actor_for(user, tenant))


def actor_for(user: User, tenant: Tenant) -> Actor:
    return Actor(
        tenant_id=user.tenant_id,
        user_id=user.id,
        name=user.name,
        role=user.role,
        locale=user.locale or tenant.locale,
    )


@functools.cache
def _session_user_query() -> Select[User, Tenant]:
    # Every signed-in request runs this first: built once, so SQLAlchemy keeps its cache key.
    return (
        select(User, Tenant)
        .join(UserSession, UserSession.user_id == User.id)
        .join(Tenant, Tenant.id == User.tenant_id)
        .where(UserSession.id == bindparam("token_hash"), UserSession.expires_at > bindparam("now"))
    )


async def actor_for_session(db: Database, token: str) -> tuple[Actor, Tenant] | None:
    async with db.system() as session:
        row = (
            await session.execute(_session_user_query(), {"token_hash": _token_hash(token), "now": utcnow()})
        ).first()
    if row is None:
        return None
    user, tenant = row
    if not user.active or tenant.status != "ACTIVE":
        return None
    return actor_for(user, tenant), tenant


async def sign_out(db: Database, token: str) -> None:
    async with db.system(write=True) as session:
        await session.execute(delete(UserSession).where(UserSession.id == _token_hash(token)))
        await session.commit()


class InvalidUser(RuleViolation):
    """One or more fields of a new user are not valid; `errors` has a message per field (`__all__`
    for what no field can fix, such as a full plan). Nothing was saved."""

    def __init__(self, errors: dict[str, str]) -> None:
        first = next(iter(errors))
        super().__init__(errors[first], field=None if first == "__all__" else first)
        self.errors = errors


async def create_user(
    uow: UnitOfWork,
    *,
    email: str,
    name: str,
    role: str,
    password: str,
    locale: str | None = None,
    sign_in_url: str | None = None,
) -> User:
    """Add a user to the actor's tenant, within the plan's user limit, and mail them how to sign in
    (`sign_in_url`: the sign-in page's address, when the site's public address is known).

    Every problem of the form is reported at once (InvalidUser), the taken email and the full plan
    with the typos, so the admin does not fix one field per submit."""
    uow.actor.require("user.manage")
    errors: dict[str, str] = {}
    name = name.strip()
    if not name:
        errors["name"] = _("Enter a name.")
    elif len(name) > NAME_MAX_LENGTH:
        errors["name"] = _("Use at most %(max)s characters.", max=NAME_MAX_LENGTH)
    try:
        email = normalise_email(email)
    except RuleViolation as error:
        errors["email"] = str(error)
    if role not in ROLES:
        errors["role"] = _("Choose one of the roles.")
    if locale is not None and locale not in SUPPORTED_LOCALES:
        errors["locale"] = _("Choose one of the languages.")
    try:
        check_new_password(password)
    except RuleViolation as error:
        errors["password"] = str(error)
    # Read without the tenant's lock, before the slow hash; checked again under the lock below.
    async with uow.db.read(uow.actor.tenant_id) as lookup:
        plan = str(await lookup.scalar(select(Tenant.plan).where(Tenant.id == uow.actor.tenant_id)))
        seats_full = await _seats_full_message(lookup, plan)
    if seats_full:
        errors["__all__"] = seats_full
    if "email" not in errors:
        async with uow.db.system() as lookup:  # emails are unique across tenants
            if await lookup.scalar(select(User.id).where(func.lower(User.email) == email)) is not None:
                errors["email"] = _("A user with this email already exists.")
    if errors:
        raise InvalidUser(errors)
    # Hashing takes tens of milliseconds: do it before the tenant row is locked, not while holding it.
    password_hash = await hash_password_off_loop(password)
    session = uow.session
    tenant = await _lock_users_of_tenant(uow)
    await _refuse_when_seats_are_full(uow, tenant)
    user = User(email=email, name=name, role=role, locale=locale, password_hash=password_hash)
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as error:
        # Another admin, maybe of another dealership, added this email since the check above.
        raise RuleViolation(_("A user with this email already exists."), field="email") from error
    record(
        uow,
        "user.created",
        {"id": user.id, "email": email, "role": role},
        topics=[f"user:{user.id}", USERS_TOPIC],
    )
    queue_welcome_mail(uow, user, tenant, sign_in_url=sign_in_url)
    await uow.commit()
    return user


async def _lock_users_of_tenant(uow: UnitOfWork) -> Tenant:
    """Lock the tenant's row: serialises the changes that count users (seats, administrators), so two
    admins at once cannot both take the last seat or both remove the other administrator."""
    return (
        await uow.session.execute(select(Tenant).where(Tenant.id == uow.actor.tenant_id).with_for_update())
    ).scalar_one()


async def _seats_full_message(session: AsyncSession, plan: str) -> str | None:
    """Why the session's tenant cannot have another active user, or None while its plan has a seat."""
    max_users = PLANS[plan][0]
    if max_users is None:
        return None
    active_users = await session.scalar(select(func.count()).select_from(User).where(User.active.is_(True)))
    if (active_users or 0) < max_users:
        return None
    return _(
        "The %(plan)s plan allows %(limit)s users and all are in use. Upgrade the plan or deactivate a user.",
        plan=plan.title(),
        limit=max_users,
    )


async def _refuse_when_seats_are_full(uow: UnitOfWork, tenant: Tenant) -> None:
    message = await _seats_full_message(uow.session, tenant.plan)
    if message:
        raise RuleViolation(message)


@dataclass(frozen=True)
class UserDirectory:
    """Settings > Users: one page of the tenant's users and how many of the plan's seats are taken."""

    users: list[User]
    page: Page
    plan: str
    active_users: int
    max_users: int | None


USERS_PER_PAGE = 50


async def user_directory(db: Database, actor: Actor, *, page: int = 1) -> UserDirectory:
    """Active users first, then by name."""
    actor.require("user.manage")
    async with db.read(actor.tenant_id) as session:
        total = await session.scalar(select(func.count()).select_from(User)) or 0
        active_users = (
            await session.scalar(select(func.count()).select_from(User).where(User.active.is_(True))) or 0
        )
        shown = Page.of(page, total, USERS_PER_PAGE)
        users = (
            await session.scalars(
                select(User)
                .order_by(User.active.desc(), func.lower(User.name), User.id)
                .offset(shown.offset)
                .limit(shown.size)
            )
        ).all()
        plan = await session.scalar(select(Tenant.plan).where(Tenant.id == actor.tenant_id))
    return UserDirectory(list(users), shown, str(plan), int(active_users), PLANS[str(plan)][0])


async def _user_to_change(uow: UnitOfWork, user_id: int) -> tuple[User, Tenant]:
    """The user an admin changes, read with the tenant's users locked. Another tenant's user is
    NotFound for every role (looked up before the permission check, so it is never a 403); the admin's
    own account is refused: an admin who demotes or deactivates themselves locks themselves out."""
    tenant = await _lock_users_of_tenant(uow)
    user = await uow.session.scalar(select(User).where(User.id == user_id))
    if user is None:
        raise NotFound(user_id)
    uow.actor.require("user.manage")
    if user.id == uow.actor.user_id:
        raise RuleViolation(_("Ask another administrator to change your own account."))
    return user, tenant


async def _refuse_removing_the_last_admin(uow: UnitOfWork, user: User) -> None:
    if user.role != "admin" or not user.active:
        return
    admins = await uow.session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == "admin", User.active.is_(True), User.id != user.id)
    )
    if not admins:
        raise RuleViolation(
            _(
                "%(name)s is the only active administrator; make someone else administrator first.",
                name=user.name,
            )
        )


def _record_user_changed(uow: UnitOfWork, user: User) -> None:
    record(
        uow,
        "user.changed",
        {"id": user.id, "email": user.email, "role": user.role, "active": user.active, "locale": user.locale},
        topics=[f"user:{user.id}", USERS_TOPIC],
    )


async def change_role(uow: UnitOfWork, user_id: int, role: str) -> User:
    """Give a user another role; it applies from their next click, as roles are read per request."""
    if role not in ROLES:
        raise RuleViolation(_("Choose one of the roles."), field="role")
    user, _tenant = await _user_to_change(uow, user_id)
    if user.role == role:
        return user
    if role != "admin":
        await _refuse_removing_the_last_admin(uow, user)
    user.role = role
    _record_user_changed(uow, user)
    await uow.commit()
    return user


async def set_user_active(uow: UnitOfWork, user_id: int, active: bool) -> User:
    """Deactivate a user (signed out everywhere at once, the seat freed, their records kept) or bring
    one back (within the plan's seats)."""
    user, tenant = await _user_to_change(uow, user_id)
    if user.active == active:
        return user
    if active:
        await _refuse_when_seats_are_full(uow, tenant)
    else:
        await _refuse_removing_the_last_admin(uow, user)
        await uow.session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    user.active = active
    _record_user_changed(uow, user)
    await uow.commit()
    return user


async def own_account(db: Database, actor: Actor) -> User:
    """The signed-in user's own row, for their account page."""
    async with db.read(actor.tenant_id) as session:
        user = await session.scalar(select(User).where(User.id == actor.user_id))
    if user is None:
        raise NotFound(actor.user_id)
    return user


async def change_own_language(uow: UnitOfWork, locale: str | None) -> User:
    """A user chooses the language of their pages (None: the dealership's); it applies from their next
    page, as the actor's language is read per request."""
    user_id = uow.actor.user_id
    if user_id is None:  # a system actor or partner has no pages
        raise NotFound(user_id)
    if locale is not None and locale not in SUPPORTED_LOCALES:
        raise RuleViolation(_("Choose one of the languages."), field="locale")
    user = await uow.session.scalar(select(User).where(User.id == user_id, User.active.is_(True)))
    if user is None:
        raise NotFound(user_id)
    if user.locale == locale:
        return user
    user.locale = locale
    _record_user_changed(uow, user)
    await uow.commit()
    return user


async def change_own_password(
    db: Database, actor: Actor, *, current: str, new: str, repeated: str, session_token: str
) -> None:
    """A user replaces their password; every other browser they are signed in with is signed out.

    Checked and hashed outside the transaction (see `sign_in`); the write is guarded by the hash that
    was checked, so of two changes at once the second is refused instead of silently losing the first.
    """
    user_id = actor.user_id
    if user_id is None:  # a system actor has no password
        raise NotFound(user_id)
    async with db.read(actor.tenant_id) as session:
        password_hash = await session.scalar(
            select(User.password_hash).where(User.id == user_id, User.active.is_(True))
        )
    if password_hash is None:
        raise NotFound(user_id)
    if not await verify_password_off_loop(password_hash, current):
        raise RuleViolation(_("Your current password is not correct."), field="current_password")
    check_password_pair(new, repeated, field="new_password")
    if new == current:
        raise RuleViolation(_("Choose a password other than the current one."), field="new_password")
    new_hash = await hash_password_off_loop(new)
    async with db.uow(actor) as uow:
        if not await _replace_password_if_unchanged(
            uow, user_id, password_hash, new_hash, keep_session=session_token
        ):
            raise RuleViolation(
                _("Your password was changed in the meantime. Sign in again with the new one."),
                field="current_password",
            )


async def tenant_user(db: Database, actor: Actor, user_id: int) -> User:
    """A user of the admin's tenant, for a page about them; another tenant's user is NotFound."""
    async with db.read(actor.tenant_id) as session:
        user = await session.scalar(select(User).where(User.id == user_id))
    if user is None:
        raise NotFound(user_id)
    actor.require("user.manage")
    return user


async def set_password(uow: UnitOfWork, user_id: int, new_hash: str) -> User:
    """An admin gives a user who forgot theirs a new password (hashed by the caller, outside the
    transaction); the user is signed out everywhere."""
    user, _tenant = await _user_to_change(uow, user_id)
    user.password_hash = new_hash
    await _password_replaced(uow, user.id)
    return user


async def _replace_password_if_unchanged(
    uow: UnitOfWork, user_id: int, checked_hash: str, new_hash: str, *, keep_session: str | None = None
) -> bool:
    """Store `new_hash` only while the active user's password is still the one checked, and sign them
    out everywhere else; False, with nothing written, when it changed in between: of two changes at
    once, the second must not silently undo the first."""
    written = await uow.session.execute(
        update(User)
        .where(User.id == user_id, User.password_hash == checked_hash, User.active.is_(True))
        .values(password_hash=new_hash)
        .execution_options(synchronize_session=False)
    )
    if written.rowcount == 0:  # type: ignore[attr-defined]
        return False
    await _password_replaced(uow, user_id, keep_session=keep_session)
    return True


def check_password_pair(new: str, repeated: str, *, field: str) -> None:
    check_new_password(new, field=field)
    if repeated != new:
        raise RuleViolation(_("The two passwords are not the same."), field="repeated_password")


async def _password_replaced(
    uow: UnitOfWork, user_id: int | None, *, keep_session: str | None = None
) -> None:
    """End the user's sessions (but the one that made the change) and record it, then commit."""
    ended = delete(UserSession).where(UserSession.user_id == user_id)
    if keep_session is not None:
        ended = ended.where(UserSession.id != _token_hash(keep_session))
    await uow.session.execute(ended)
    record(uow, "user.password_changed", {"id": user_id}, topics=[f"user:{user_id}"])
    await uow.commit()


# --- A forgotten password, by mail -----------------------------------------------------------------
# The link is signed (the app's secret, a salt of its own) and holds the tenant, the user and a
# fingerprint of the password hash it was sent for. Any change of the password (by this link, by the
# user, by an admin) changes the fingerprint, so a link works once and no table keeps track of them.

RESET_LINK_SALT = "pitwall.password-reset"
RESET_LINK_PATH = "/password-reset"
RESET_LINK_VALID_FOR = timedelta(hours=1)


def password_fingerprint(password_hash: str) -> str:
    """Enough of the hash's digest to notice it changed; the link shows nothing a guesser could use."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ResetLink:
    tenant_id: int
    user_id: int
    fingerprint: str


class ResetLinks:
    """Issues and reads the signed links of password resets. `base_url` is the site's configured
    public address, never the request's Host header: a forged Host would send the link, and with it
    the account, to another site."""

    def __init__(
        self, secret_key: str, base_url: str = "", max_age: timedelta = RESET_LINK_VALID_FOR
    ) -> None:
        self.max_age = max_age
        self._links = SignedLinks(
            secret_key, salt=RESET_LINK_SALT, path=RESET_LINK_PATH, max_age=max_age, base_url=base_url
        )

    def token_for(self, link: ResetLink) -> str:
        return self._links.token_for({"t": link.tenant_id, "u": link.user_id, "f": link.fingerprint})

    def url_for(self, token: str) -> str:
        return self._links.url_for(token)

    def read(self, token: str) -> ResetLink:
        """Raises LinkInvalid (404) or LinkExpired (410)."""
        data = self._links.read(token)
        try:
            return ResetLink(tenant_id=int(data["t"]), user_id=int(data["u"]), fingerprint=str(data["f"]))
        except (KeyError, TypeError, ValueError) as error:
            raise LinkInvalid() from error


class ResetLinkUsed(Exception):
    """The password changed since the link was sent: it was used, or set another way (410)."""


class ResetAccountClosed(Exception):
    """The user was deactivated, or the dealership suspended, since the link was sent (410)."""


async def request_password_reset(db: Database, email: str, *, links: ResetLinks) -> None:
    """Mail the link to set a new password to an active user of an active dealership. For any other
    address nothing happens; the caller answers the same either way, so nobody learns who has an
    account. `email` is normalised (`normalise_email`)."""
    async with db.system() as session:
        row = (
            await session.execute(
                select(User, Tenant)
                .join(Tenant, Tenant.id == User.tenant_id)
                .where(func.lower(User.email) == email.lower())
            )
        ).first()
    if row is None:
        return
    user, tenant = row
    if not user.active or tenant.status != "ACTIVE":
        return
    token = links.token_for(ResetLink(user.tenant_id, user.id, password_fingerprint(user.password_hash)))
    # Whoever asked is not signed in, and may not be the user: the dealership's system asks.
    async with db.uow(Actor.system(user.tenant_id, "password reset")) as uow:
        mail = queue_password_reset_mail(uow, user, tenant, url=links.url_for(token), valid_for=links.max_age)
        await uow.session.flush()
        record(uow, "user.password_reset_requested", {"id": user.id, "mail_id": mail.id}, topics=[])
        await uow.commit()


async def open_password_reset(db: Database, link: ResetLink) -> tuple[User, Tenant]:
    """The user a reset link is for, looked up in the link's tenant only; raises when the link no
    longer counts (LinkInvalid, ResetAccountClosed, ResetLinkUsed)."""
    async with db.read(link.tenant_id) as session:
        row = (
            await session.execute(
                select(User, Tenant).join(Tenant, Tenant.id == User.tenant_id).where(User.id == link.user_id)
            )
        ).first()
    if row is None:
        raise LinkInvalid()
    user, tenant = row
    if not user.active or tenant.status != "ACTIVE":
        raise ResetAccountClosed()
    if not hmac.compare_digest(password_fingerprint(user.password_hash), link.fingerprint):
        raise ResetLinkUsed()
    return user, tenant


async def reset_password(db: Database, link: ResetLink, *, new: str, repeated: str) -> User:
    """Set the password a reset link was sent for and sign the user out everywhere.

    Hashed outside the transaction (see `sign_in`); the write is guarded by the very hash whose
    fingerprint the link carries, so of two submissions of one link exactly one sets its password and
    the other is ResetLinkUsed."""
    user, tenant = await open_password_reset(db, link)
    check_password_pair(new, repeated, field="new_password")
    new_hash = await hash_password_off_loop(new)
    # The user acts: the event names them, as when they change their password signed in.
    async with db.uow(actor_for(user, tenant)) as uow:
        if not await _replace_password_if_unchanged(uow, user.id, user.password_hash, new_hash):
            raise ResetLinkUsed()
    return user


# The areas a partner token may be scoped to; `<area>:write` implies `<area>:read`.
API_SCOPE_AREAS = ("customers", "leads", "stock", "vehicles", "work_orders", "telemetry", "webhooks")
API_SCOPES = tuple(f"{area}:{access}" for area in API_SCOPE_AREAS for access in ("read", "write"))
API_TOKEN_PREFIX = "pw_"
API_TOKEN_NAME_MAX_LENGTH = 80
# Long enough to tell a tenant's tokens apart on the settings page, far too short to guess the rest.
_VISIBLE_PREFIX_LENGTH = 10
# A token used all day would otherwise write its row on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedApiToken:
    """A new token: `raw` is shown once and never stored."""

    token: ApiToken
    raw: str


def expand_scopes(scopes: list[str] | frozenset[str]) -> frozenset[str]:
    """The scopes a token holds: those chosen plus the read scope each write scope implies."""
    held = set(scopes)
    held |= {scope.replace(":write", ":read") for scope in scopes if scope.endswith(":write")}
    return frozenset(held)


async def create_api_token(uow: UnitOfWork, *, name: str, scopes: list[str]) -> IssuedApiToken:
    """Issue a token for the actor's tenant; the raw value is returned once, only its hash is kept."""
    uow.actor.require("api_token.manage")
    name = name.strip()
    if not name:
        raise RuleViolation(_("Enter a name."), field="name")
    if len(name) > API_TOKEN_NAME_MAX_LENGTH:
        raise RuleViolation(_("Use at most %(max)s characters.", max=API_TOKEN_NAME_MAX_LENGTH), field="name")
    unknown = sorted(set(scopes) - set(API_SCOPES))
    if unknown:
        raise RuleViolation(_("Unknown scope: %(scope)s.", scope=unknown[0]), field="scopes")
    if not scopes:
        raise RuleViolation(_("Choose at least one scope."), field="scopes")
    raw = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        token_hash=_token_hash(raw),
        prefix=raw[:_VISIBLE_PREFIX_LENGTH],
        scopes=sorted(set(scopes)),
        created_by_id=uow.actor.user_id,
        created_at=utcnow(),
    )
    uow.session.add(token)
    await uow.session.flush()
    record(
        uow,
        "api_token.created",
        {"id": token.id, "name": name, "prefix": token.prefix, "scopes": token.scopes},
        topics=[],
    )
    await uow.commit()
    return IssuedApiToken(token, raw)


async def revoke_api_token(uow: UnitOfWork, token_id: int) -> ApiToken:
    """Stop a token from working; revoking twice changes nothing."""
    uow.actor.require("api_token.manage")
    token = (
        await uow.session.execute(select(ApiToken).where(ApiToken.id == token_id).with_for_update())
    ).scalar_one_or_none()
    if token is None:
        raise NotFound(token_id)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        record(uow, "api_token.revoked", {"id": token.id, "name": token.name}, topics=[])
        await uow.commit()
    return token


async def list_api_tokens(db: Database, actor: Actor) -> list[ApiToken]:
    """The tenant's tokens, working ones first, newest first."""
    actor.require("api_token.manage")
    async with db.read(actor.tenant_id) as session:
        rows = await session.scalars(
            select(ApiToken).order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc())
        )
        return list(rows)


async def actor_for_api_token(db: Database, raw_token: str) -> Actor | None:
    """The partner acting with this bearer token; None if unknown, revoked or its tenant suspended."""
    found = await authenticate_api_token(db, raw_token)
    return found[1] if found is not None else None


async def authenticate_api_token(db: Database, raw_token: str) -> tuple[int, Actor] | None:
    """The token's id (for per-token limits and idempotency keys) and the partner acting with it."""
    if not raw_token.startswith(API_TOKEN_PREFIX):
        return None
    token_hash = _token_hash(raw_token)
    async with db.system() as session:
        row = (
            await session.execute(
                select(ApiToken, Tenant.status)
                .join(Tenant, Tenant.id == ApiToken.tenant_id)
                .where(ApiToken.token_hash == token_hash)
            )
        ).first()
    if row is None:
        return None
    token, tenant_status = row
    if token.revoked_at is not None or tenant_status != "ACTIVE":
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        await _touch_api_token(db, token.id, now)
    actor = Actor(
        tenant_id=token.tenant_id,
        user_id=None,
        name=token.name,
        role="partner",
        kind="partner",
        scopes=expand_scopes(token.scopes),
    )
    return token.id, actor


async def _touch_api_token(db: Database, token_id: int, now: datetime) -> None:
    # The condition makes concurrent requests of one token write the row once a minute, not once each.
    async with db.system(write=True) as session:
        await session.execute(
            update(ApiToken)
            .where(
                ApiToken.id == token_id,
                or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - LAST_USED_RESOLUTION),
            )
            .values(last_used_at=now)
        )
        await session.commit()
