"""Each report service's answer shaped for its page: KPI cards, chart specs and table rows.

A chart spec is plain JSON that static/dashboard.js turns into an ECharts option:

- ``{"kind": "bars", "categories": [...], "series": [{"name", "data", "line"?, "percent"?}]}``: bars
  (or lines) over categories; a ``percent`` series is a 0–1 share drawn on a second axis in %;
- ``{"kind": "heatmap", "x": [...], "y": [...], "cells": [[x, y, value], ...], "lowIsGood"?}``: values
  0–1, coloured green to red (or red to green).

The services check the viewer's roles and scope; nothing here decides who sees what.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from backend.admin.labels import label
from backend.admin.session import SignedIn
from backend.services.credits.ledger import from_tenths
from backend.services.reports import credit_distribution, instructors, training_effect, training_needs
from backend.services.reports.frame import Dimension, ReportFilter


@dataclass(frozen=True)
class Query:
    """What a page's filter form asks: its values as typed (to show them again), the report
    filter, the breakdown (overview) and how many levels below the unit (needs)."""

    values: dict[str, str]
    filter: ReportFilter
    breakdown: Dimension | None
    depth: int


def percent(value: float | None) -> str:
    """A share (0–1) as a percentage with one decimal; a dash when there is none."""
    return "—" if value is None else f"{value * 100:.1f}%"


def number(value: int | Decimal | float | None) -> str:
    return "—" if value is None else str(value)


def tenths(value: int | None) -> str:
    """An amount of credits kept in tenths, as credits."""
    return "—" if value is None else str(from_tenths(value))


def raw(value: object) -> str:
    """A figure as a data attribute carries it (what tests and scripts read): the plain value."""
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Card:
    """One KPI card: its figure's field in the service's answer (``data-kpi``), its label, the text
    shown and the plain value (``data-value``)."""

    key: str
    label: str
    text: str
    value: str


def _series(name: str, data: list[Any], *, line: bool = False, share: bool = False) -> dict[str, Any]:
    return {"name": name, "data": data, "line": line, "percent": share}


def _num(value: Decimal | int | None) -> float | int | None:
    return float(value) if isinstance(value, Decimal) else value


# --- training effect (/admin/) ---------------------------------------------------------------------

_CARDS = (
    ("participation_rate", True),
    ("completion_rate", True),
    ("pass_rate", True),
    ("hours", False),
    ("credits_earned", False),
    ("participants", False),
    ("sessions_held", False),
    ("average_quiz_score", False),
)


def _figure_series(figures: list[training_effect.Figures], locale: str) -> list[dict[str, Any]]:
    return [
        _series(label("effect.participants", locale), [f.participants for f in figures]),
        _series(label("effect.attended", locale), [f.attended for f in figures]),
        _series(label("effect.courses_completed", locale), [f.courses_completed for f in figures]),
        _series(label("effect.completion_rate", locale), [f.completion_rate for f in figures], line=True, share=True),
        _series(label("effect.pass_rate", locale), [f.pass_rate for f in figures], line=True, share=True),
    ]


async def overview(who: SignedIn, query: Query, locale: str) -> dict[str, Any]:
    report = await training_effect.training_effect(who.viewer, query.filter, query.breakdown)
    total = report.total
    cards = []
    for key, share in _CARDS:
        value = getattr(total, key)
        text = percent(value) if share else number(value)
        cards.append(Card(key, label(f"effect.{key}", locale), text, raw(value)))
    months = [month.month.strftime("%Y-%m") for month in report.series]
    trend = {"kind": "bars", "categories": months, "series": _figure_series([m.figures for m in report.series], locale)}
    none = label("effect.none_group", locale)
    groups = [entry.label or none for entry in report.breakdown]
    compare = {
        "kind": "bars",
        "categories": groups,
        "series": _figure_series([e.figures for e in report.breakdown], locale),
    }
    drop_off = {
        "kind": "bars",
        "categories": [module.title for module in report.modules],
        "series": [
            _series(label("effect.started", locale), [module.started for module in report.modules]),
            _series(label("effect.completed", locale), [module.completed for module in report.modules]),
        ],
    }
    return {
        "effect": report,
        "cards": cards,
        "trend": trend,
        "compare": compare if report.breakdown else None,
        "rows": list(zip(groups, report.breakdown)),
        "drop_off": drop_off if report.modules else None,
    }


# --- credits (/admin/credits) ----------------------------------------------------------------------


def _histogram(distribution: credit_distribution.Distribution, name: str) -> dict[str, Any]:
    return {
        "kind": "bars",
        "categories": [f"{bucket.low}–{bucket.high}" for bucket in distribution.buckets],
        "series": [_series(name, [bucket.count for bucket in distribution.buckets])],
    }


async def credits(who: SignedIn, query: Query, locale: str) -> dict[str, Any]:
    report = await credit_distribution.credit_distribution(who.viewer, query.filter)
    groups = [f"{group.position_family} · {group.grade}" for group in report.targets]
    targets = {
        "kind": "bars",
        "categories": groups,
        "series": [
            _series(label("credits.behind", locale), [group.behind for group in report.targets]),
            _series(label("credits.ahead", locale), [group.ahead for group in report.targets]),
            _series(
                label("credits.earned", locale), [_num(group.average_earned) for group in report.targets], line=True
            ),
            _series(label("credits.target", locale), [_num(group.expected) for group in report.targets], line=True),
        ],
    }
    return {
        "credits": report,
        "earned_chart": _histogram(report.earned, label("credits.people", locale)),
        "balance_chart": _histogram(report.balances, label("credits.people", locale)),
        "targets_chart": targets if report.targets else None,
    }


# --- training needs (/admin/needs) -----------------------------------------------------------------


def _unit_name(row: training_needs.UnitRow, locale: str) -> str:
    if row.unit is None:
        return label("needs.no_unit", locale)
    return f"{row.unit.name} {label('needs.own_people', locale)}" if row.own_people_only else row.unit.name


async def needs(who: SignedIn, query: Query, locale: str) -> dict[str, Any]:
    """The heatmap is the state now: the period is not read; the unit, site and position are."""
    f = query.filter
    report = await training_needs.training_needs(
        who.viewer, f.org_unit_id, query.depth, f.site_id, f.position_family, f.position_level
    )
    units = [_unit_name(row, locale) for row in report.rows]
    skills = [f"{column.skill.code} {column.skill.name}" for column in report.columns]
    cells = [
        [x, y, need.share_below]
        for y, row in enumerate(report.rows)
        for x, column in enumerate(report.columns)
        if (need := row.cells.get(column.skill.id)) is not None and need.share_below is not None
    ]
    heatmap = {"kind": "heatmap", "x": skills, "y": units, "cells": cells, "lowIsGood": True}
    return {
        "needs": report,
        "heatmap": heatmap if cells else None,
        "units": list(zip(units, report.rows)),
    }


# --- instructors and mentors (/admin/instructors) ----------------------------------------------------

_BUCKET_NAMES = [f"{low}–{low + 9}" for low in range(0, 100, 10)] + ["100"]
_CHARTED_MENTORS = 6  # a chart with more bars than this stops being readable


def _shares(counts: list[int]) -> list[float | None]:
    total = sum(counts)
    return [round(count / total, 4) if total else None for count in counts]


async def instructors_page(who: SignedIn, query: Query, locale: str) -> dict[str, Any]:
    taught = await instructors.instructor_report(who.viewer, query.filter)
    mentoring = await instructors.mentor_report(who.viewer, query.filter)
    scored = [mentor for mentor in mentoring.mentors if mentor.evaluations]
    # The ones who stand out first: they are why the chart is there.
    charted = sorted(scored, key=lambda m: (not m.stands_out, m.person.name))[:_CHARTED_MENTORS]
    distribution = {
        "kind": "bars",
        "categories": _BUCKET_NAMES,
        "series": [
            _series(label("people.peers", locale), _shares(mentoring.peer_histogram), line=True, share=True),
            *(_series(mentor.person.name, _shares(mentor.histogram), share=True) for mentor in charted),
        ],
    }
    averages = {
        "kind": "bars",
        "categories": [mentor.person.name for mentor in scored],
        "series": [
            _series(label("people.average_score", locale), [mentor.average_score for mentor in scored]),
            _series(
                label("people.peer_average", locale),
                [mentoring.peer_average_score for _ in scored],
                line=True,
            ),
        ],
    }
    return {
        "taught": taught,
        "mentoring": mentoring,
        "distribution": distribution if mentoring.peer_evaluations else None,
        "averages": averages if scored else None,
    }
