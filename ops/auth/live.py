"""Live updates for Settings > Users (the `users` topic).

Two administrators may work on the list at once: one adds a user or deactivates one, and the other's
list must not go on offering a seat that is taken or a role menu for someone who is gone. The list is
cheap to read again, so an event only wakes the page, which re-fetches the list (templates/auth/
users.html; static/js/app.js holds the re-fetch back while the admin is editing a row).
"""

from __future__ import annotations

from ops.auth.actor import Actor
from realtime.wake import WakePage

USERS_TOPIC = "users"


class UsersLive(WakePage):
    """Renderer for the `users` topic: a user added or changed (role, active) wakes the list."""

    page = "users"
    event_prefixes = ("user.created", "user.changed")


async def guard_users_topic(actor: Actor, argument: str) -> bool:
    return argument == "" and actor.can("user.manage")
