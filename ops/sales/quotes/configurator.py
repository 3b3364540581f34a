"""The configurator's rules: how many options each group takes, and which options need or exclude others.

`validate_configuration` is pure: it takes the trim's groups and options (rows or anything shaped like
them) and the chosen codes, and returns every rule the choice breaks, each with a sentence that names the
rule ("Choose at least 1 in Paint", "Sport package requires 19-inch wheels"). An empty list means the
vehicle can be built.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ops.i18n import gettext as _

RULES = ("min", "max", "requires", "conflicts", "unknown")


class GroupRule(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def min_select(self) -> int: ...
    @property
    def max_select(self) -> int: ...


class OptionRule(Protocol):
    @property
    def group_id(self) -> int: ...
    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def requires(self) -> list[str]: ...
    @property
    def conflicts(self) -> list[str]: ...


@dataclass(frozen=True)
class Violation:
    """One broken rule: `rule` is one of RULES; `group_id` places it next to its group on the page."""

    rule: str
    message: str
    group_id: int | None = None
    code: str | None = None


def chosen_in_order(options: Iterable[OptionRule], chosen_codes: Iterable[str]) -> list[str]:
    """The chosen codes once each, in the catalog's order, unknown ones last as given."""
    chosen = list(dict.fromkeys(chosen_codes))
    known = [option.code for option in options if option.code in chosen]
    return list(dict.fromkeys(known + [code for code in chosen if code not in known]))


def validate_configuration(
    groups: Sequence[GroupRule], options: Sequence[OptionRule], chosen_codes: Iterable[str]
) -> list[Violation]:
    by_code = {option.code: option for option in options}
    chosen = chosen_in_order(options, chosen_codes)
    picked = set(chosen)
    violations: list[Violation] = []

    for code in chosen:
        if code not in by_code:
            violations.append(
                Violation("unknown", _("%(code)s is not an option of this vehicle.", code=code), code=code)
            )

    for group in groups:
        count = sum(1 for option in options if option.group_id == group.id and option.code in picked)
        if count < group.min_select:
            violations.append(
                Violation(
                    "min",
                    _("Choose at least %(count)s in %(group)s", count=group.min_select, group=group.name),
                    group_id=group.id,
                )
            )
        if count > group.max_select:
            violations.append(
                Violation(
                    "max",
                    _("Choose at most %(count)s in %(group)s", count=group.max_select, group=group.name),
                    group_id=group.id,
                )
            )

    def name_of(code: str) -> str:
        option = by_code.get(code)
        return option.name if option is not None else code

    reported_conflicts: set[frozenset[str]] = set()
    for code in chosen:
        option = by_code.get(code)
        if option is None:
            continue
        for needed in option.requires:
            if needed not in picked:
                violations.append(
                    Violation(
                        "requires",
                        _("%(option)s requires %(needed)s", option=option.name, needed=name_of(needed)),
                        group_id=option.group_id,
                        code=code,
                    )
                )
        # A conflict declared on either side of a pair is reported once.
        for excluded in option.conflicts:
            pair = frozenset((code, excluded))
            if excluded in picked and pair not in reported_conflicts:
                reported_conflicts.add(pair)
                violations.append(
                    Violation(
                        "conflicts",
                        _("%(option)s conflicts with %(other)s", option=option.name, other=name_of(excluded)),
                        group_id=option.group_id,
                        code=code,
                    )
                )
    return violations
