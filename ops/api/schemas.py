"""The partner API's request and response bodies; the OpenAPI document is generated from these."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator

from ops.customers.models import CUSTOMER_STATUSES, CUSTOMER_TYPES
from ops.sales.models import LEAD_SOURCES, LEAD_STAGES, LOST_REASONS, UNIT_STATUSES
from ops.vehicles.models import FUEL_TYPES, TRANSMISSIONS, VEHICLE_STATUSES
from ops.workshop.service import PRIORITIES, STATUSES

CustomerType = Literal[CUSTOMER_TYPES]  # type: ignore[valid-type]
CustomerStatus = Literal[CUSTOMER_STATUSES]  # type: ignore[valid-type]
LeadSource = Literal[LEAD_SOURCES]  # type: ignore[valid-type]
LeadStage = Literal[LEAD_STAGES]  # type: ignore[valid-type]
LostReason = Literal[LOST_REASONS]  # type: ignore[valid-type]
UnitStatus = Literal[UNIT_STATUSES]  # type: ignore[valid-type]
WorkOrderStatus = Literal[STATUSES]  # type: ignore[valid-type]
Priority = Literal[PRIORITIES]  # type: ignore[valid-type]
FuelType = Literal[FUEL_TYPES]  # type: ignore[valid-type]
Transmission = Literal[TRANSMISSIONS]  # type: ignore[valid-type]
VehicleStatus = Literal[VEHICLE_STATUSES]  # type: ignore[valid-type]
Language = Literal["de", "fr", "it", "en"]
# Row ids are 64-bit signed integers on both databases.
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
# Amounts go out as decimal strings with two places ("36900.00"): exact, never a float.
Money = Annotated[
    Decimal,
    PlainSerializer(lambda amount: f"{amount:.2f}", return_type=str, when_used="json"),
    Field(json_schema_extra={"pattern": r"^\d+\.\d{2}$"}),
]


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Input(BaseModel):
    # An unknown field is a partner's typo: refused, not silently dropped.
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul_characters(cls, value: Any) -> Any:
        # PostgreSQL cannot store U+0000 in text; refuse it here on both databases alike.
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(text, str) and "\x00" in text for text in texts):
            raise ValueError("must not contain NUL characters")
        return value


class PageMeta(BaseModel):
    total: int = Field(ge=0)
    page: int = Field(ge=1)
    # camelCase: the wire names DOMAIN.md fixes for every list.
    pageSize: int = Field(ge=1, le=100)
    totalPages: int = Field(ge=1)


class ErrorDetail(BaseModel):
    field: str | None = Field(description="The field at fault: a body field, a query parameter or a header.")
    message: str


class Error(BaseModel):
    code: str = Field(description="A stable machine-readable code, e.g. `not_found`.")
    message: str
    details: list[ErrorDetail]
    timestamp: datetime
    path: str


# --- Customers -----------------------------------------------------------------------------------------


class Customer(Output):
    id: int
    type: CustomerType
    status: CustomerStatus
    first_name: str
    last_name: str
    company_name: str | None
    email: str | None
    phone: str | None = Field(description="E.164, e.g. +41441234567.")
    uid: str | None
    address_line: str | None
    postal_code: str | None
    city: str | None
    region: str | None
    country: str
    preferred_language: str
    budget_min: Money | None
    budget_max: Money | None
    vehicle_interests: list[str]
    owner_id: int | None
    do_not_contact: bool
    erased_at: datetime | None
    version: int
    created_at: datetime


class CustomerFields(Input):
    type: CustomerType | None = None
    status: CustomerStatus | None = None
    first_name: str | None = Field(default=None, max_length=50)
    last_name: str | None = Field(default=None, max_length=50)
    company_name: str | None = Field(default=None, max_length=120)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    uid: str | None = Field(default=None, max_length=20)
    address_line: str | None = Field(default=None, max_length=200)
    postal_code: str | None = Field(default=None, max_length=12)
    city: str | None = Field(default=None, max_length=80)
    region: str | None = Field(default=None, max_length=40)
    country: str | None = Field(default=None, min_length=2, max_length=2)
    preferred_language: Language | None = None
    budget_min: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)
    budget_max: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)
    vehicle_interests: list[str] | None = None
    owner_id: Id | None = None


class CustomerCreate(CustomerFields):
    first_name: str = Field(min_length=1, max_length=50)
    last_name: str = Field(min_length=1, max_length=50)


class CustomerUpdate(CustomerFields):
    """Only the fields sent change; `version` is the one read, so a concurrent edit answers 409."""

    version: int = Field(ge=1)


# --- Leads ---------------------------------------------------------------------------------------------


class Lead(Output):
    id: int
    customer_id: int
    stage: LeadStage
    source: LeadSource
    interest_trim_id: int | None
    interest_unit_id: int | None
    interest_note: str
    budget: Money | None
    owner_id: int | None
    trade_in_offered: bool
    financing_preapproved: bool
    next_action: str
    next_action_on: date | None
    lost_reason: str | None
    lost_note: str
    version: int
    created_at: datetime
    stage_changed_at: datetime
    closed_at: datetime | None


class LeadCreate(Input):
    customer_id: Id
    source: LeadSource
    interest_trim_id: Id | None = None
    interest_unit_id: Id | None = None
    interest_note: str = Field(default="", max_length=200)
    budget: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)
    owner_id: Id | None = None
    trade_in_offered: bool = False
    financing_preapproved: bool = False
    next_action: str = Field(default="", max_length=200)
    next_action_on: date | None = None


class LeadMove(Input):
    stage: LeadStage
    version: int = Field(ge=1)
    lost_reason: LostReason | None = None
    lost_note: str = Field(default="", max_length=200)


# --- Stock ---------------------------------------------------------------------------------------------


class StockUnit(Output):
    """A unit for sale. Its cost is the dealership's margin and is not shared with partners."""

    id: int
    vin: str
    trim_id: int
    make: str
    model: str
    trim: str
    year: int
    colour: str
    mileage_km: int
    list_price: Money
    location: str
    arrived_on: date | None
    status: UnitStatus
    version: int


# --- Vehicles ------------------------------------------------------------------------------------------


class Vehicle(Output):
    id: int
    vin: str
    plate: str | None
    make: str
    model: str
    year: int
    fuel_type: str
    transmission: str | None
    colour: str | None
    odometer_km: int
    status: str
    customer_id: int | None
    fleet_id: int | None
    health_score: int
    last_reading_at: datetime | None
    last_service_on: date | None
    next_service_on: date | None
    version: int
    created_at: datetime


class VehicleCreate(Input):
    vin: str = Field(min_length=1, max_length=17)
    make: str = Field(min_length=1, max_length=40)
    model: str = Field(min_length=1, max_length=60)
    year: int = Field(ge=1900, le=2100)
    plate: str = Field(default="", max_length=20)
    fuel_type: FuelType = "GASOLINE"
    transmission: Transmission | None = None
    colour: str = Field(default="", max_length=30)
    engine_number: str = Field(default="", max_length=40)
    odometer_km: int | None = Field(default=None, ge=0)
    status: VehicleStatus = "ACTIVE"
    customer_id: Id | None = None
    fleet_id: Id | None = None


# --- Work orders ---------------------------------------------------------------------------------------


class WorkOrder(Output):
    id: int
    number: str = Field(description="The work order's number as printed, e.g. WO-000123.")
    vehicle_id: int
    customer_id: int | None
    category_id: int | None
    complaint: str
    priority: Priority
    status: WorkOrderStatus
    technician_id: int | None
    bay_id: int | None = Field(
        description="The bay the job is planned for, or in while it is being worked on."
    )
    promised_at: datetime | None
    scheduled_start: datetime | None
    scheduled_end: datetime | None
    completed_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class WorkOrderCreate(Input):
    vehicle_id: Id
    complaint: str = Field(min_length=1, max_length=2000)
    priority: Priority = "NORMAL"
    category_id: Id | None = None
    technician_id: Id | None = None
    bay_id: Id | None = Field(
        default=None,
        description="A bay no job is in now; the job holds it once its work starts. A bay another job "
        "is in, out of service or unknown is refused (422).",
    )
    promised_at: datetime | None = None


class WorkOrderMove(Input):
    status: WorkOrderStatus
    version: int = Field(ge=1)
    bay_id: Id | None = Field(
        default=None,
        description="A bay to give the job in the same change, as it goes into work: a job in work "
        "(In progress, Quality check) must be in a bay no other job is in. The bay and the move are "
        "taken or refused (422, naming bay_id) together.",
    )


# --- Webhook subscriptions -----------------------------------------------------------------------------


class WebhookEndpoint(Output):
    """A subscription; its signing secret is shown only in the answer that creates it."""

    id: int
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str
    version: int
    created_at: datetime


class WebhookEndpointCreated(WebhookEndpoint):
    secret: str = Field(description="The Standard Webhooks signing secret (whsec_...); shown only now.")


class WebhookEndpointCreate(Input):
    url: str = Field(min_length=1, max_length=2000, description="https URL that receives the events.")
    event_types: list[str] = Field(min_length=1, description='Event types, or ["*"] for all.')
    description: str = Field(default="", max_length=200)


# --- Telemetry (served by ops/vehicles/telemetry/web.py) ------------------------------------------------


class TelemetryResult(BaseModel):
    received: int
    stored: int
    duplicates: int
