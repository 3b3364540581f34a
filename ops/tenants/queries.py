"""Read models for the dealership's settings page: the plan and how much of it is in use."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ops.auth.models import User
from ops.tenants.models import PLAN_CURRENCY, PLANS
from ops.vehicles.models import Vehicle


@dataclass(frozen=True)
class PlanUsage:
    plan: str
    users: int
    max_users: int | None  # None = unlimited
    vehicles: int
    max_vehicles: int | None
    storage_gb: int
    monthly_price: Decimal
    price_currency: str


async def plan_usage(session: AsyncSession, plan: str) -> PlanUsage:
    """Counted the way the limits are enforced: active users, vehicle profiles."""
    users = await session.scalar(select(func.count()).select_from(User).where(User.active.is_(True)))
    vehicles = await session.scalar(select(func.count()).select_from(Vehicle))
    max_users, max_vehicles, storage_gb, monthly_price = PLANS[plan]
    return PlanUsage(
        plan,
        users or 0,
        max_users,
        vehicles or 0,
        max_vehicles,
        storage_gb,
        Decimal(monthly_price),
        PLAN_CURRENCY,
    )
