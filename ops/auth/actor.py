"""Who is acting: roles, their permissions, and the errors services raise for them."""

from __future__ import annotations

from dataclasses import dataclass

ROLES = (
    "admin",
    "sales_manager",
    "sales_rep",
    "service_advisor",
    "workshop_manager",
    "technician",
    "viewer",
)

_WORKSHOP_STAFF = {"admin", "service_advisor", "workshop_manager"}

PERMISSIONS: dict[str, set[str]] = {
    "workshop.view": set(ROLES),
    "work_order.create": _WORKSHOP_STAFF,
    "work_order.move": _WORKSHOP_STAFF | {"technician"},
    # Booking a slot, reassigning a job and checking a car in happen at the counter or the manager's desk.
    "work_order.schedule": _WORKSHOP_STAFF,
    "work_order.assign": _WORKSHOP_STAFF,
    "work_order.check_in": _WORKSHOP_STAFF,
    # Parts inventory: the workshop sees stock; advisors, managers and admins receive and adjust it.
    "parts.view": _WORKSHOP_STAFF | {"technician", "viewer"},
    "parts.manage": _WORKSHOP_STAFF,
    # Invoices: everyone in the workshop and anyone who may only look.
    "invoice.view": _WORKSHOP_STAFF | {"technician", "viewer"},
    "kpi.view": _WORKSHOP_STAFF | {"viewer"},
    "bay.view": _WORKSHOP_STAFF | {"technician", "viewer"},
    "bay.manage": {"admin", "workshop_manager"},
    "user.manage": {"admin"},
    "tenant.manage": {"admin"},
}


class PermissionDenied(Exception):
    """The actor's role does not allow this action (403)."""


class NotFound(Exception):
    """No such object in the actor's tenant (404), also when it exists in another tenant."""


class Conflict(Exception):
    """The object changed since the actor saw it (409)."""

    def __init__(self, message: str, current: object = None) -> None:
        super().__init__(message)
        self.current = current


class RuleViolation(Exception):
    """A business rule refuses the change (422); the message says which rule."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Actor:
    tenant_id: int
    user_id: int | None
    name: str
    role: str
    kind: str = "user"  # user | partner | system
    locale: str = "en"

    def can(self, permission: str) -> bool:
        return self.kind == "system" or self.role in PERMISSIONS.get(permission, set())

    def require(self, permission: str) -> None:
        if not self.can(permission):
            raise PermissionDenied(permission)

    @classmethod
    def system(cls, tenant_id: int, name: str = "system") -> Actor:
        return cls(tenant_id=tenant_id, user_id=None, name=name, role="admin", kind="system")


def role_label(role: str) -> str:
    from ops.i18n import gettext as _

    labels = {
        "admin": _("Administrator"),
        "sales_manager": _("Sales manager"),
        "sales_rep": _("Sales rep"),
        "service_advisor": _("Service advisor"),
        "workshop_manager": _("Workshop manager"),
        "technician": _("Technician"),
        "viewer": _("Viewer"),
    }
    return labels.get(role, role)
