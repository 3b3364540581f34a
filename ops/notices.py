"""Personal notices: a toast for one person, live on their `user:<id>` topic.

Any event recorded on `user_topic(user_id)` whose payload carries a notice (see `notice_payload`) shows
up as a toast on that person's open pages that watch the topic. The text is stored untranslated with
its values and translated when it is rendered, so each person reads it in their own language.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment

from ops.auth.actor import Actor
from ops.events import EventRecord
from ops.i18n import gettext as _
from realtime.hub import View

TOAST_TEMPLATE = "partials/toast.html"
NOTICE_KINDS = ("info", "success", "error")


def user_topic(user_id: int) -> str:
    return f"user:{user_id}"


def notice_payload(message: str, kind: str = "info", **values: Any) -> dict[str, Any]:
    """Payload keys that make an event a notice: `message` is an msgid (mark it with N_) with
    %(name)s placeholders filled from `values`, translated for whoever reads it."""
    if kind not in NOTICE_KINDS:
        raise ValueError(f"unknown notice kind {kind!r}")
    return {"notice": message, "notice_kind": kind, "notice_values": values}


def notice_text(record: EventRecord) -> str:
    """The notice of an event in the current locale; empty when the event carries none."""
    message = record.payload.get("notice")
    if not isinstance(message, str) or not message:
        return ""
    values = record.payload.get("notice_values") or {}
    return _(message, **values) if values else _(message)


class UserNoticeLive:
    """Renderer for `user:<id>` topics: the event's notice as a toast, appended out of band."""

    def __init__(self, env: Environment) -> None:
        self.env = env

    async def load(self, records: list[EventRecord], topic: str) -> list[Any]:
        return [None] * len(records)

    async def render(self, loaded: Any, record: EventRecord, view: View) -> str:
        text = notice_text(record)
        if not text:
            return ""
        kind = record.payload.get("notice_kind")
        template = self.env.get_template(TOAST_TEMPLATE)
        return await template.render_async(kind=kind if kind in NOTICE_KINDS else "info", message=text)


async def guard_user_topic(actor: Actor, argument: str) -> bool:
    """Only the person themself may watch their notices."""
    return actor.user_id is not None and argument == str(actor.user_id)
