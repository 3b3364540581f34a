"""Bay use cases: create a bay and change its name, kind or whether it is in use."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ops.auth.actor import NotFound, RuleViolation
from ops.db import UnitOfWork
from ops.events import record
from ops.i18n import gettext as _
from ops.workshop.models import BAY_KINDS, Bay, WorkOrder
from ops.workshop.service import WORKSHOP_TOPIC

NAME_MAX_LENGTH = 40


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise RuleViolation(_("Enter a name."), field="name")
    if len(name) > NAME_MAX_LENGTH:
        raise RuleViolation(_("Use at most %(max)s characters.", max=NAME_MAX_LENGTH), field="name")
    return name


def _check_kind(kind: str) -> None:
    if kind not in BAY_KINDS:
        raise RuleViolation(_("Choose one of the kinds."), field="kind")


async def _refuse_taken_name(uow: UnitOfWork, name: str, bay_id: int | None = None) -> None:
    query = select(Bay.id).where(Bay.name == name)
    if bay_id is not None:
        query = query.where(Bay.id != bay_id)
    if await uow.session.scalar(query) is not None:
        raise RuleViolation(_("There is already a bay called %(name)s.", name=name), field="name")


async def _commit_unique(uow: UnitOfWork, bay: Bay, event_type: str, payload: Mapping[str, object]) -> None:
    # Two people naming two bays the same at the same moment both pass the look-up: the unique
    # constraint decides, and the loser gets the same message as if the look-up had caught it.
    try:
        await uow.session.flush()
        record(uow, event_type, {"id": bay.id, **payload}, topics=[WORKSHOP_TOPIC])
        await uow.commit()
    except IntegrityError as error:
        raise RuleViolation(
            _("There is already a bay called %(name)s.", name=bay.name), field="name"
        ) from error


async def create_bay(uow: UnitOfWork, *, name: str, kind: str, active: bool = True) -> Bay:
    uow.actor.require("bay.manage")
    name = _clean_name(name)
    _check_kind(kind)
    await _refuse_taken_name(uow, name)
    bay = Bay(name=name, kind=kind, active=active)
    uow.session.add(bay)
    await _commit_unique(uow, bay, "bay.created", {"name": name, "kind": kind, "active": active})
    return bay


async def update_bay(uow: UnitOfWork, bay_id: int, *, name: str, kind: str, active: bool) -> Bay:
    session = uow.session
    bay = await session.scalar(select(Bay).where(Bay.id == bay_id))
    if bay is None:
        raise NotFound(bay_id)
    uow.actor.require("bay.manage")
    name = _clean_name(name)
    _check_kind(kind)
    await _refuse_taken_name(uow, name, bay_id)
    if bay.active and not active:
        holding = await session.scalar(select(WorkOrder.id).where(WorkOrder.occupied_bay_id == bay_id))
        if holding is not None:
            raise RuleViolation(
                _("%(name)s holds a job right now; take it off to stop using the bay.", name=bay.name),
                field="active",
            )
    changed = {
        field: value
        for field, value in (("name", name), ("kind", kind), ("active", active))
        if getattr(bay, field) != value
    }
    if not changed:
        return bay
    bay.name, bay.kind, bay.active = name, kind, active
    await _commit_unique(uow, bay, "bay.updated", changed)
    return bay
