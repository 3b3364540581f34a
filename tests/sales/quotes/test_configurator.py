"""The configurator's rules, each on its own: a rep who picks a combination that cannot be built is
told which rule it breaks, in words that name the group or the options."""

from __future__ import annotations

from dataclasses import dataclass, field

from ops.sales.quotes.configurator import validate_configuration


@dataclass(frozen=True)
class Group:
    id: int
    name: str
    min_select: int
    max_select: int


@dataclass(frozen=True)
class Option:
    group_id: int
    code: str
    name: str
    requires: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


PAINT, WHEELS, PACKS, EXTRAS = (
    Group(1, "Paint", 1, 1),
    Group(2, "Wheels", 0, 1),
    Group(3, "Packages", 0, 3),
    Group(4, "Extras", 0, 5),
)
GROUPS = [PAINT, WHEELS, PACKS, EXTRAS]
OPTIONS = [
    Option(1, "WHITE", "Moon white"),
    Option(1, "BLUE", "Race blue metallic"),
    Option(2, "W18", "18-inch wheels"),
    Option(2, "W19", "19-inch wheels"),
    Option(3, "SPORT", "Sport package", requires=["W19"]),
    Option(4, "TOWBAR", "Towbar", conflicts=["DIFFUSER"]),
    Option(4, "DIFFUSER", "Rear diffuser"),
]


def _messages(chosen: list[str]) -> list[str]:
    return [violation.message for violation in validate_configuration(GROUPS, OPTIONS, chosen)]


def test_a_buildable_choice_breaks_no_rule():
    assert validate_configuration(GROUPS, OPTIONS, ["BLUE", "W19", "SPORT", "TOWBAR"]) == []


def test_a_group_with_a_minimum_must_have_that_many():
    [violation] = validate_configuration(GROUPS, OPTIONS, ["W18"])

    assert violation.rule == "min"
    assert violation.message == "Choose at least 1 in Paint"
    assert violation.group_id == PAINT.id


def test_a_group_with_a_maximum_takes_no_more():
    [violation] = validate_configuration(GROUPS, OPTIONS, ["WHITE", "W18", "W19"])

    assert violation.rule == "max"
    assert violation.message == "Choose at most 1 in Wheels"
    assert violation.group_id == WHEELS.id


def test_an_option_that_requires_another_names_it():
    [violation] = validate_configuration(GROUPS, OPTIONS, ["WHITE", "W18", "SPORT"])

    assert violation.rule == "requires"
    assert violation.message == "Sport package requires 19-inch wheels"
    assert violation.group_id == PACKS.id
    assert violation.code == "SPORT"


def test_conflicting_options_are_named_once_whichever_side_declares_it():
    assert _messages(["WHITE", "TOWBAR", "DIFFUSER"]) == ["Towbar conflicts with Rear diffuser"]
    # Declared on the diffuser's side only: still one violation.
    options = [
        *OPTIONS[:5],
        Option(4, "TOWBAR", "Towbar"),
        Option(4, "DIFFUSER", "Rear diffuser", conflicts=["TOWBAR"]),
    ]
    [violation] = validate_configuration(GROUPS, options, ["WHITE", "TOWBAR", "DIFFUSER"])
    assert violation.rule == "conflicts"
    assert violation.message == "Rear diffuser conflicts with Towbar"


def test_an_unknown_code_is_refused_by_name():
    [violation] = validate_configuration(GROUPS, OPTIONS, ["WHITE", "NITRO"])

    assert violation.rule == "unknown"
    assert violation.code == "NITRO"
    assert "NITRO" in violation.message


def test_every_broken_rule_is_reported_and_a_code_counts_once():
    messages = _messages(["W18", "W19", "SPORT", "SPORT", "TOWBAR", "DIFFUSER"])

    assert messages == [
        "Choose at least 1 in Paint",
        "Choose at most 1 in Wheels",
        "Towbar conflicts with Rear diffuser",
    ]
