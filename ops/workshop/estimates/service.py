"""Estimates: the workshop sends the lines awaiting the customer's decision by mail with a signed link;
the customer approves or declines each line on a public page, without an account.

The link is an itsdangerous token signed with the app's secret: {t: tenant, w: work order, n: nonce}.
It expires after 14 days, resolves only inside its own tenant, and stops working when a newer estimate
is sent (every estimate draws a new nonce). A decision is taken once: the move out of WAITING_APPROVAL
is a conditional UPDATE, so of two submits racing exactly one wins and the other changes nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import select, update

from ops.auth.actor import Actor, Conflict, RuleViolation
from ops.customers.models import Customer
from ops.db import Database, UnitOfWork, utcnow
from ops.events import record
from ops.i18n import N_, language_of, locale_for
from ops.i18n import gettext as _
from ops.mail.service import queue_mail, render_mail, valid_address, written_for
from ops.notices import notice_payload, user_topic
from ops.public_links import LinkExpired, LinkInvalid, SignedLinks
from ops.workshop.estimates import queries
from ops.workshop.estimates.queries import AWAITING_DECISION, Estimate
from ops.workshop.models import WorkOrder, WorkOrderLine
from ops.workshop.parts.service import release_part
from ops.workshop.service import (
    TRANSITIONS,
    WORKSHOP_TOPIC,
    change_status,
    keep_status,
    load_for_change,
    status_label,
    work_order_topic,
)

LINK_SALT = "pitwall.estimate-link"
LINK_VALID_FOR = timedelta(days=14)
DECISIONS = ("APPROVED", "DECLINED")
# Where the order goes once the customer has answered: the workshop carries on with what was approved.
AFTER_DECISION = "IN_PROGRESS"
# What the advisor is told when the answered order stays waiting, by its stay reason.
STAY_NOTICES = {
    "ANSWERED_BAY_TAKEN": N_(
        "The customer answered the estimate for %(number)s, but its bay is taken by another job: "
        "it stays in Waiting for approval until you move it on."
    ),
    "ANSWERED_NO_BAY": N_(
        "The customer answered the estimate for %(number)s, but it has no bay: it stays in Waiting for "
        "approval until you assign a bay and move it on."
    ),
}


class EstimateLinkInvalid(LinkInvalid):
    """Not a link we issued (garbled, or signed with another key), or its work order is not there (404)."""


class EstimateLinkExpired(LinkExpired):
    """Older than LINK_VALID_FOR (410)."""


class EstimateSuperseded(Exception):
    """A newer estimate was sent; only its link counts (410)."""


class EstimateAlreadyDecided(Exception):
    """The customer already answered, or the workshop took the order out of WAITING_APPROVAL (409)."""


class EstimateChanged(Exception):
    """The workshop changed the lines while the customer was reading them (409: read them again)."""


class DecisionsMissing(RuleViolation):
    """Some lines have neither Approve nor Decline chosen (422)."""

    def __init__(self, line_ids: list[int]) -> None:
        super().__init__(_("Choose approve or decline for every line."), field="decisions")
        self.line_ids = line_ids


@dataclass(frozen=True)
class EstimateLink:
    tenant_id: int
    work_order_id: int
    nonce: str


class EstimateLinks:
    """Issues and reads the signed links (the app's secret; the public address for the mail)."""

    def __init__(self, secret_key: str, base_url: str = "") -> None:
        self._links = SignedLinks(
            secret_key, salt=LINK_SALT, path="/estimate", max_age=LINK_VALID_FOR, base_url=base_url
        )

    def token_for(self, link: EstimateLink) -> str:
        return self._links.token_for({"t": link.tenant_id, "w": link.work_order_id, "n": link.nonce})

    def url_for(self, token: str) -> str:
        return self._links.url_for(token)

    def read(self, token: str) -> EstimateLink:
        try:
            data = self._links.read(token)
        except LinkExpired as error:
            raise EstimateLinkExpired() from error
        except LinkInvalid as error:
            raise EstimateLinkInvalid() from error
        try:
            return EstimateLink(tenant_id=int(data["t"]), work_order_id=int(data["w"]), nonce=str(data["n"]))
        except (KeyError, TypeError, ValueError) as error:
            raise EstimateLinkInvalid() from error


def customer_locale(estimate: Estimate) -> str:
    """The customer's preferred language (English when it is not one of ops.i18n.LANGUAGES), with dates
    and money formatted as in the dealership's country where Babel knows that pairing."""
    return locale_for(estimate.customer_language, estimate.country)


async def send_estimate(
    uow: UnitOfWork, work_order_id: int, expected_version: int | None, *, links: EstimateLinks
) -> WorkOrder:
    """Mail the lines awaiting the customer's decision, with a new link, and wait for the answer.

    From CHECKED_IN or IN_PROGRESS (where the transitions allow WAITING_APPROVAL) the order moves to
    WAITING_APPROVAL; sent again while waiting, the new estimate replaces the old one and the old
    link stops working.
    """
    session = uow.session
    work_order = await load_for_change(uow, work_order_id, "estimate.send", expected_version)
    code = work_order.code
    from_status = work_order.status
    if from_status != AWAITING_DECISION and AWAITING_DECISION not in TRANSITIONS[from_status]:
        raise RuleViolation(
            _(
                "%(number)s is %(status)s; an estimate can be sent once the vehicle is checked in "
                "and until the work is done.",
                number=code,
                status=status_label(from_status),
            ),
            field="__all__",
        )
    pending = await session.scalar(
        select(WorkOrderLine.id)
        .where(WorkOrderLine.work_order_id == work_order.id, WorkOrderLine.approval == "PENDING")
        .limit(1)
    )
    if pending is None:
        raise RuleViolation(
            _("%(number)s has no lines awaiting the customer's decision; add the work first.", number=code),
            field="__all__",
        )
    customer = (
        await session.scalar(select(Customer).where(Customer.id == work_order.customer_id))
        if work_order.customer_id is not None
        else None
    )
    recipient = valid_address(customer.email if customer else None)
    if customer is None or recipient is None:
        raise RuleViolation(
            _("The customer of %(number)s has no valid email address to send the estimate to.", number=code),
            field="__all__",
        )

    now = utcnow()
    nonce = secrets.token_hex(16)
    new_version = work_order.version + 1
    if from_status == AWAITING_DECISION:
        # Sent again while waiting: the new estimate replaces the old one (the old link stops working).
        result = await session.execute(
            update(WorkOrder)
            .where(WorkOrder.id == work_order.id, WorkOrder.version == work_order.version)
            .values(version=WorkOrder.version + 1, estimate_nonce=nonce, estimate_sent_at=now, updated_at=now)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise Conflict(_("%(number)s was changed by someone else in the meantime.", number=code))
    else:
        await change_status(uow, work_order, AWAITING_DECISION, estimate_nonce=nonce, estimate_sent_at=now)

    estimate = await queries.estimate(session, work_order.id)
    assert estimate is not None
    token = links.token_for(EstimateLink(uow.actor.tenant_id, work_order.id, nonce))
    locale = customer_locale(estimate)
    with written_for(locale, estimate.timezone, estimate.currency):
        subject = _(
            "Estimate %(number)s for your %(vehicle)s from %(dealership)s",
            number=code,
            vehicle=estimate.vehicle,
            dealership=estimate.dealership,
        )
        text, html = render_mail(
            "estimate",
            estimate=estimate,
            totals=estimate.totals_for({line.id for line in estimate.pending_lines}),
            url=links.url_for(token),
            valid_until=_day(now + LINK_VALID_FOR, estimate.timezone, locale),
            lang=language_of(locale),
        )
    mail = queue_mail(
        uow, recipient, subject, text, html, language=language_of(locale), work_order_id=work_order.id
    )
    await session.flush()
    record(
        uow,
        "work_order.estimate_sent",
        {
            "id": work_order.id,
            "number": code,
            "from": from_status,
            "to": AWAITING_DECISION,
            "version": new_version,
            "line_ids": [line.id for line in estimate.pending_lines],
            "mail_id": mail.id,
        },
        topics=[WORKSHOP_TOPIC, work_order_topic(work_order.id)],
    )
    await uow.commit()
    return work_order


def _day(moment: datetime, timezone: str, locale: str) -> str:
    """A date as the customer writes it (6 December 2026, 6. Dezember 2026)."""
    return format_date(moment.astimezone(ZoneInfo(timezone)).date(), format="long", locale=locale)


@dataclass(frozen=True)
class EstimateDecision:
    work_order_id: int
    approved: list[int]
    declined: list[int]


async def open_estimate(db: Database, link: EstimateLink) -> Estimate:
    """The estimate a link points to, as the customer may see it; raises when the link no longer counts.

    An estimate that was answered is still shown (read only): raises nothing for it, `is_open` says so.
    """
    async with db.read(link.tenant_id) as session:
        estimate = await queries.estimate(session, link.work_order_id)
    if estimate is None:
        raise EstimateLinkInvalid()
    if estimate.nonce != link.nonce:
        raise EstimateSuperseded()
    return estimate


async def decide_estimate(
    db: Database,
    token: str,
    decisions: Mapping[int, str],
    *,
    links: EstimateLinks,
    fingerprint: str | None = None,
) -> EstimateDecision:
    """The customer's answer, line by line. `fingerprint` is the one of the lines they were shown."""
    link = links.read(token)
    shown = await open_estimate(db, link)
    # The customer acts through the link: attributed to them by name, with no permissions of staff.
    actor = Actor(
        tenant_id=link.tenant_id,
        user_id=None,
        name=shown.customer_name or _("Customer"),
        role="customer",
        kind="customer",
    )
    async with db.uow(actor) as uow:
        return await _decide(uow, link, decisions, fingerprint)


async def _decide(
    uow: UnitOfWork, link: EstimateLink, decisions: Mapping[int, str], fingerprint: str | None
) -> EstimateDecision:
    session = uow.session
    now = utcnow()
    # Take the order's row lock first and re-read under it: a second submit, the workshop moving the
    # order or changing its lines meanwhile either waits for this answer or is seen here.
    locked = await session.execute(
        update(WorkOrder)
        .where(
            WorkOrder.id == link.work_order_id,
            WorkOrder.status == AWAITING_DECISION,
            WorkOrder.estimate_nonce == link.nonce,
        )
        .values(updated_at=now)
    )
    current = await queries.estimate(session, link.work_order_id)
    if current is None:
        raise EstimateLinkInvalid()
    if current.nonce != link.nonce:
        raise EstimateSuperseded()
    if locked.rowcount == 0 or not current.is_open:  # type: ignore[attr-defined]
        raise EstimateAlreadyDecided()
    if fingerprint is not None and fingerprint != current.fingerprint:
        raise EstimateChanged()
    missing = [line.id for line in current.pending_lines if decisions.get(line.id) not in DECISIONS]
    if missing:
        raise DecisionsMissing(missing)

    to_status, stay_reason = await _leave_waiting(uow, link.work_order_id)
    lines = (
        await session.scalars(
            select(WorkOrderLine)
            .where(WorkOrderLine.id.in_([line.id for line in current.pending_lines]))
            # Parts in ascending id, so that two transactions on PostgreSQL lock part rows in one order.
            .order_by(WorkOrderLine.part_id, WorkOrderLine.id)
        )
    ).all()
    for line in lines:
        line.approval = decisions[line.id]
        line.decided_at = now
        if line.approval == "DECLINED" and line.part_id is not None and line.reserved_quantity > 0:
            await release_part(
                uow,
                line.part_id,
                line.reserved_quantity,
                link.work_order_id,
                _("Declined by the customer on %(number)s", number=current.code),
            )
            line.reserved_quantity = Decimal("0")
    approved = sorted(line.id for line in lines if line.approval == "APPROVED")
    declined = sorted(line.id for line in lines if line.approval == "DECLINED")
    payload = {
        "id": link.work_order_id,
        "number": current.code,
        "from": AWAITING_DECISION,
        "to": to_status,
        "approved": approved,
        "declined": declined,
    }
    topics = [WORKSHOP_TOPIC, work_order_topic(link.work_order_id)]
    advisor_id = await session.scalar(
        select(WorkOrder.service_advisor_id).where(WorkOrder.id == link.work_order_id)
    )
    if stay_reason is not None and advisor_id is not None:
        # The workshop has to move the order on itself: its advisor hears it at once.
        payload |= notice_payload(STAY_NOTICES[stay_reason], number=current.code)
        topics.append(user_topic(advisor_id))
    record(uow, "work_order.estimate_decided", payload, topics=topics)
    await uow.commit()
    return EstimateDecision(link.work_order_id, approved, declined)


async def _leave_waiting(uow: UnitOfWork, work_order_id: int) -> tuple[str, str | None]:
    """Move the answered order on to IN_PROGRESS; returns the status it has now and, when it stayed,
    why (one of STAY_REASONS).

    A car that waited in the yard (estimate sent at check-in) needs its bay to go into work. When the
    order has no bay, or another job holds its bay (the moves the transitions allow that can be refused
    here), the answer is still taken and the order keeps waiting for the workshop to move it, with the
    reason in its history: a customer's answer is never refused for the workshop's reasons.
    """
    session = uow.session
    work_order = await session.scalar(select(WorkOrder).where(WorkOrder.id == work_order_id))
    assert work_order is not None
    if work_order.bay_id is None:
        await keep_status(uow, work_order, "ANSWERED_NO_BAY")
        return AWAITING_DECISION, "ANSWERED_NO_BAY"
    try:
        async with session.begin_nested():
            await change_status(uow, work_order, AFTER_DECISION)
        return AFTER_DECISION, None
    except RuleViolation:
        # Read again what the savepoint rolled back; the order's row lock is this transaction's.
        await session.refresh(work_order)
        await keep_status(uow, work_order, "ANSWERED_BAY_TAKEN")
        return AWAITING_DECISION, "ANSWERED_BAY_TAKEN"
