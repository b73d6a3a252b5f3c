"""The credit-distribution report (学分分布): its types and the ``creditDistribution`` query. Thin:
the figures and what they mean live in backend/services/reports/credit_distribution.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import strawberry

from backend.services.credits.ledger import from_tenths
from backend.services.reports import credit_distribution as service
from schema.ids import to_global_id
from schema.reports.inputs import ReportFilterInput


@strawberry.type(description="One bucket of a histogram: amounts from low (included) to high (excluded).")
class CreditBucket:
    low: Decimal = strawberry.field(description="Lower edge, credits (included).")
    high: Decimal = strawberry.field(
        description="Upper edge, credits (excluded; the last bucket includes it and anything above)."
    )
    count: int = strawberry.field(description="People in the bucket.")


@strawberry.type(description="A nearest-rank percentile: the ⌈p × n / 100⌉-th smallest of n amounts.")
class CreditPercentile:
    percent: int = strawberry.field(description="p: 10, 25, 50, 75 or 90.")
    credits: Decimal = strawberry.field(description="The amount.")


@strawberry.type(
    description="How amounts are spread over the people in scope: ten equal buckets from 0, each a whole number "
    "of credits wide (the largest amount / 10, rounded up, at least 1; negative amounts count in the first), "
    "and percentiles."
)
class CreditHistogram:
    buckets: list[CreditBucket] = strawberry.field(description="The ten buckets, from 0 up.")
    percentiles: list[CreditPercentile] = strawberry.field(
        description="p10, p25, p50, p75 and p90; empty when nobody is in scope."
    )

    @classmethod
    def of(cls, value: service.Distribution) -> CreditHistogram:
        return cls(
            buckets=[CreditBucket(low=b.low, high=b.high, count=b.count) for b in value.buckets],
            percentiles=[CreditPercentile(percent=p, credits=c) for p, c in value.percentiles.items()],
        )


@strawberry.type(description="People of one position family and grade that has a credit target.")
class CreditTargetGroup:
    position_family: str = strawberry.field(description="Position family.")
    grade: int = strawberry.field(description="Grade within the family.")
    headcount: int = strawberry.field(description="Active people in scope of this family and grade.")
    target: Decimal = strawberry.field(description="The target per credit period.")
    expected: Decimal = strawberry.field(
        description="The target prorated to the report period: target × the share of the credit program's "
        "periods it covers, in days (rounded down to a tenth)."
    )
    average_earned: Decimal = strawberry.field(description="Average earned in the period, one decimal.")
    reached: int = strawberry.field(description="People who earned at least the expected.")
    behind: int = strawberry.field(description="People who earned less than the expected.")
    ahead: int = strawberry.field(description="People who earned more than the expected.")

    @classmethod
    def of(cls, group: service.TargetGroup) -> CreditTargetGroup:
        return cls(**vars(group))


@strawberry.type(description="One person against their prorated target.")
class CreditStanding:
    employee_id: strawberry.ID = strawberry.field(description="The employee.")
    employee_no: str = strawberry.field(description="Employee number.")
    name: str = strawberry.field(description="Name.")
    org_unit: str = strawberry.field(description="Name of their org unit (empty without one).")
    earned: Decimal = strawberry.field(description="Credits earned in the period.")
    expected: Decimal = strawberry.field(description="Their target prorated to the period.")

    @classmethod
    def of(cls, person: service.Person) -> CreditStanding:
        return cls(
            employee_id=strawberry.ID(to_global_id("Employee", person.employee_id)),
            employee_no=person.employee_no,
            name=person.name,
            org_unit=person.org_unit,
            earned=from_tenths(person.earned),
            expected=from_tenths(person.expected or 0),
        )


@strawberry.type(description="Redemptions of one reward requested in the period (not rejected or cancelled).")
class RewardRedemptionTotal:
    reward_id: strawberry.ID = strawberry.field(description="The reward.")
    code: str = strawberry.field(description="The reward's code.")
    name: str = strawberry.field(description="The reward's name.")
    count: int = strawberry.field(description="Redemptions pending or approved.")
    credits: Decimal = strawberry.field(description="Credits they cost.")


@strawberry.type(
    description="学分分布 of a period: the active people in scope, credits earned in the period (from what they "
    "did, by when it happened) and balances now, against targets, and redemptions."
)
class CreditDistributionReport:
    from_day: date = strawberry.field(name="from", description="The period's first day.")
    to_day: date = strawberry.field(name="to", description="The period's last day (included).")
    headcount: int = strawberry.field(description="Active people in scope.")
    total_earned: Decimal = strawberry.field(description="Credits they earned in the period.")
    earned: CreditHistogram = strawberry.field(description="Credits earned in the period, per person.")
    balances: CreditHistogram = strawberry.field(description="Balances now, per person.")
    targets: list[CreditTargetGroup] = strawberry.field(
        description="Per position family and grade with a target, by family then grade."
    )
    behind: list[CreditStanding] = strawberry.field(
        description="People furthest below their expected first (then by employee number)."
    )
    ahead: list[CreditStanding] = strawberry.field(
        description="People furthest above their expected first (then by employee number)."
    )
    redemptions: list[RewardRedemptionTotal] = strawberry.field(
        description="Per reward (by code), redemptions requested in the period by people in scope; course and "
        "scenario filters do not narrow them."
    )

    @classmethod
    def of(cls, report: service.CreditDistribution) -> CreditDistributionReport:
        return cls(
            from_day=report.period.first,
            to_day=report.period.last,
            headcount=report.headcount,
            total_earned=report.total_earned,
            earned=CreditHistogram.of(report.earned),
            balances=CreditHistogram.of(report.balances),
            targets=[CreditTargetGroup.of(group) for group in report.targets],
            behind=[CreditStanding.of(person) for person in report.behind],
            ahead=[CreditStanding.of(person) for person in report.ahead],
            redemptions=[
                RewardRedemptionTotal(
                    reward_id=strawberry.ID(to_global_id("Reward", r.reward_id)),
                    code=r.code,
                    name=r.name,
                    count=r.count,
                    credits=r.credits,
                )
                for r in report.redemptions
            ],
        )


@strawberry.type
class CreditDistributionQueries:
    @strawberry.field(
        description="学分分布 of a period: HR admins see their company, managers their own org unit's subtree "
        "(a unit outside it is FORBIDDEN); others FORBIDDEN."
    )
    async def credit_distribution(
        self,
        info: strawberry.Info,
        filter: Annotated[ReportFilterInput, strawberry.argument(description="The period and filters.")],
        first: Annotated[
            int, strawberry.argument(description="How many people in each of behind and ahead (0 to 100).")
        ] = 20,
    ) -> CreditDistributionReport:
        viewer = await info.context.require_viewer()
        report = await service.credit_distribution(viewer, filter.to_domain(), first)
        return CreditDistributionReport.of(report)
