"""Where a paginated list stands: the page shown, its size, and how many rows there are in all."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    number: int
    size: int
    total: int

    @classmethod
    def of(cls, number: int, total: int, size: int) -> Page:
        """The page asked for, or the last one when the list has become shorter since."""
        last = max(1, -(-total // size))
        return cls(min(max(1, number), last), size, total)

    @property
    def count(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.count

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size
