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
    # Correcting a job's complaint, category, priority or promised time: whoever may open one.
    "work_order.edit": _WORKSHOP_STAFF,
    # Labour and parts lines: what the customer is quoted and billed, so not the technician.
    "work_order.edit_lines": _WORKSHOP_STAFF,
    # Invoices: everyone in the workshop and anyone who may only look.
    "invoice.view": _WORKSHOP_STAFF | {"technician", "viewer"},
    "kpi.view": _WORKSHOP_STAFF | {"viewer"},
    "bay.view": _WORKSHOP_STAFF | {"technician", "viewer"},
    "bay.manage": {"admin", "workshop_manager"},
    # The time clock: a technician clocks themself on and off; a manager may do it for a technician.
    "time_clock.use": {"technician"},
    "time_clock.manage": {"admin", "workshop_manager"},
    "work_order.note": _WORKSHOP_STAFF | {"technician"},
    "work_order.mark_used": _WORKSHOP_STAFF | {"technician"},
    "technicians.view": _WORKSHOP_STAFF | {"viewer"},
    # Parts inventory: the workshop sees stock; advisors, managers and admins receive and adjust it.
    "parts.view": _WORKSHOP_STAFF | {"technician", "viewer"},
    "parts.manage": _WORKSHOP_STAFF,
    # Mailing the customer an estimate to approve: the people who quote the work.
    "estimate.send": _WORKSHOP_STAFF,
    # Customers (CRM). Everyone who deals with customers may look them up; technicians work on cars,
    # and a customer's contact details and history are none of their business (need to know).
    "customer.view": set(ROLES) - {"technician"},
    "customer.edit": {"admin", "sales_manager", "sales_rep", "service_advisor"},
    # All of a customer's data in one file, and the irreversible erasure: managers and admins only.
    "customer.export": {"admin", "sales_manager"},
    "customer.erase": {"admin", "sales_manager"},
    # Showroom stock: everyone in sales and anyone who may only look sees it; reps hold units for
    # their leads and run test drives; the sales manager adds units and sets prices.
    "stock.view": {"admin", "sales_manager", "sales_rep", "viewer"},
    "stock.reserve": {"admin", "sales_manager", "sales_rep"},
    "test_drive.manage": {"admin", "sales_manager", "sales_rep"},
    "stock.manage": {"admin", "sales_manager"},
    # Leads and the pipeline board: sales and anyone who may only look see them; sales people work
    # them (any rep may move any lead: showroom teams cover for each other).
    "lead.view": {"admin", "sales_manager", "sales_rep", "viewer"},
    "lead.edit": {"admin", "sales_manager", "sales_rep"},
    # Quotes: sales and anyone who may only look see them; sales people build and send them; only a
    # sales manager (or an admin) approves a discount or margin beyond the dealership's thresholds.
    "quote.view": {"admin", "sales_manager", "sales_rep", "viewer"},
    "quote.edit": {"admin", "sales_manager", "sales_rep"},
    "quote.approve": {"admin", "sales_manager"},
    # Deals: sales and anyone who may only look see them; reps and managers take deposits and
    # deliver; cancelling a sale (and refunding the deposit) is the manager's call.
    "deal.view": {"admin", "sales_manager", "sales_rep", "viewer"},
    "deal.edit": {"admin", "sales_manager", "sales_rep"},
    "deal.cancel": {"admin", "sales_manager"},
    # The showroom's figures (margins, revenue per rep): managers, admins and viewers, not reps.
    "sales_kpi.view": {"admin", "sales_manager", "viewer"},
    # Vehicles and telematics: everyone may look a vehicle up (the technician works on it); the fleet
    # board is for the people who answer its alerts; fleets, schedules and thresholds are set up by
    # the workshop manager or an admin.
    "vehicle.view": set(ROLES),
    "vehicle.edit": {"admin", "service_advisor", "workshop_manager", "sales_manager"},
    "fleet.view": {"admin", "service_advisor", "workshop_manager", "sales_manager", "viewer"},
    "fleet.manage": {"admin", "workshop_manager"},
    # Telemetry comes from devices and partners, never from a person's browser.
    "telemetry.ingest": set(),
    # Money in through the payment provider or by hand: the people who take deposits and invoices.
    "invoice.pay": _WORKSHOP_STAFF,
    # The outside world: partner API tokens, webhook subscriptions, integrations and sent mail.
    "api_token.manage": {"admin"},
    "webhook.manage": {"admin"},
    # Reading the subscriptions (never their secrets): the partner API's `webhooks:read`.
    "webhook.view": {"admin"},
    "integration.view": {"admin", "sales_manager", "workshop_manager"},
    "integration.manage": {"admin"},
    "mail.view": {"admin"},
    "user.manage": {"admin"},
    "tenant.manage": {"admin"},
}


# What a partner API token needs for a permission: `<area>:read` or `<area>:write` scopes, chosen by
# the tenant admin when the token is created. A permission missing here is never a partner's.
PERMISSION_SCOPES: dict[str, str] = {
    "customer.view": "customers:read",
    "customer.edit": "customers:write",
    "lead.view": "leads:read",
    "lead.edit": "leads:write",
    "stock.view": "stock:read",
    "stock.manage": "stock:write",
    "vehicle.view": "vehicles:read",
    "vehicle.edit": "vehicles:write",
    "fleet.view": "vehicles:read",
    "workshop.view": "work_orders:read",
    "work_order.create": "work_orders:write",
    "work_order.move": "work_orders:write",
    # Only the bay that goes with a move into work: the API has no reassignment of its own.
    "work_order.assign": "work_orders:write",
    "telemetry.ingest": "telemetry:write",
    "webhook.manage": "webhooks:write",
    "webhook.view": "webhooks:read",
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
    # A partner token's scopes (`customers:read`); empty for people, whose role decides.
    scopes: frozenset[str] = frozenset()

    def can(self, permission: str) -> bool:
        if self.kind == "system":
            return True
        if self.kind == "partner":
            scope = PERMISSION_SCOPES.get(permission)
            return scope is not None and scope in self.scopes
        return self.role in PERMISSIONS.get(permission, set())

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
