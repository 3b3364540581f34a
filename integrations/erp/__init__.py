"""The ERP adapter: what Pitwall pushes to an ERP (sales orders, invoices, purchase requests and their
cancellations) and pulls from it (part levels).

Two implementations: `OdooErp` over Odoo's external JSON-RPC API, and `GenericErp`, which posts the same
documents as Standard-Webhooks-signed JSON to a middleware endpoint (SAP and others). Every push is
idempotent on the document's `reference` (the tenant's slug and our document number), so a replay
after a timeout finds the record the ERP already made instead of making a second one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ops.config import Settings

# The breaker every ERP call goes through: the status page and the sync jobs read its state.
ERP_BREAKER = "erp"


class ErpRejected(Exception):
    """The ERP answered but refused the call (validation, access rights): retrying soon will not help."""


@dataclass(frozen=True)
class PartnerDoc:
    """The customer as the ERP should know them; `reference` is stable across pushes."""

    reference: str
    name: str
    email: str = ""
    phone: str = ""
    street: str = ""
    postal_code: str = ""
    city: str = ""
    country: str = ""
    vat: str = ""
    is_company: bool = False


@dataclass(frozen=True)
class DocLine:
    description: str
    quantity: str
    unit_price: str
    # The product's code in the ERP (the VIN of a car), when the line sells one.
    sku: str = ""


@dataclass(frozen=True)
class ErpDocument:
    """A sales order (from a deal) or an invoice (from a work order); amounts are Decimal strings."""

    kind: str  # sales_order | invoice
    id: str  # stable across retries: the generic adapter's webhook-id
    reference: str  # our number as the ERP's external reference: "autohaus-muster/D-000042"
    number: str
    date: str
    currency: str
    customer: PartnerDoc
    lines: list[DocLine] = field(default_factory=list)
    net: str = "0.00"
    vat: str = "0.00"
    total: str = "0.00"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PurchaseRequestDoc:
    """A request to reorder a part; the ERP's purchasing turns it into an order with the supplier.
    Quantities and the expected unit cost are Decimal strings."""

    kind: str  # purchase_request
    id: str  # stable across retries: the generic adapter's webhook-id
    reference: str  # "autohaus-muster/PR-000003"
    number: str
    date: str
    currency: str
    # The part's supplier, or the dealership's "supplier to be chosen" when the part names none.
    supplier: PartnerDoc
    lines: list[DocLine] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PurchaseRequestCancellationDoc:
    """A purchase request withdrawn in Pitwall: the ERP is to cancel the order it made of it."""

    kind: str  # purchase_request_cancellation
    id: str  # stable across retries: the generic adapter's webhook-id
    reference: str  # the request's own reference, as pushed: "autohaus-muster/PR-000003"
    number: str
    date: str  # the day it was cancelled, in the dealership's time zone
    reason: str
    # The ERP's name for its order ("P00012") when the push learned it; empty: find it by `reference`.
    erp_ref: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PartLevel:
    """One part as the ERP has it: stock on hand and prices."""

    sku: str
    on_hand: Decimal
    price: Decimal
    cost: Decimal


class ErpAdapter(Protocol):
    """What Pitwall needs from an ERP. Pushes return the ERP's name for the record ("S00042")."""

    name: str

    async def push_sales_order(self, document: ErpDocument) -> str: ...

    async def push_invoice(self, document: ErpDocument) -> str: ...

    async def push_purchase_request(self, document: PurchaseRequestDoc) -> str: ...

    async def cancel_purchase_request(self, document: PurchaseRequestCancellationDoc) -> str:
        """Cancel the ERP's order of a withdrawn request; returns its name, or "" when the ERP has none."""
        ...

    async def pull_parts(self, skus: list[str] | None) -> list[PartLevel]: ...

    async def aclose(self) -> None: ...


def create_erp_adapter(settings: Settings) -> ErpAdapter | None:
    """The adapter the settings ask for, or None when no ERP is configured."""
    if settings.erp == "odoo":
        from integrations.erp.odoo import OdooErp

        return OdooErp(
            settings.erp_url or "",
            database=settings.erp_db or "",
            login=settings.erp_user or "",
            api_key=settings.erp_api_key or "",
            timeout=settings.erp_timeout_seconds,
        )
    if settings.erp == "generic":
        from integrations.erp.generic import GenericErp

        return GenericErp(
            settings.erp_url or "",
            secret=settings.erp_secret or "",
            pull_url=settings.erp_pull_url,
            timeout=settings.erp_timeout_seconds,
        )
    return None
