"""Customers (CRM). This issue needs only what the job board shows; the CRM issue extends it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ops.db import Base, BigId, TenantScoped, utcnow

CUSTOMER_TYPES = ("INDIVIDUAL", "BUSINESS", "FLEET", "GOVERNMENT")
CUSTOMER_STATUSES = ("PROSPECT", "ACTIVE", "INACTIVE", "BLACKLISTED")


class Customer(TenantScoped, Base):
    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("tenant_id", "email"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(12), default="INDIVIDUAL")
    status: Mapped[str] = mapped_column(String(12), default="ACTIVE")
    first_name: Mapped[str] = mapped_column(String(50))
    last_name: Mapped[str] = mapped_column(String(50))
    company_name: Mapped[str | None] = mapped_column(String(120), default=None)
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    phone: Mapped[str | None] = mapped_column(String(20), default=None)
    preferred_language: Mapped[str] = mapped_column(String(2), default="de")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def display_name(self) -> str:
        person = f"{self.first_name} {self.last_name}"
        return f"{self.company_name} ({person})" if self.company_name else person
