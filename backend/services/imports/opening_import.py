"""The ``opening_balances`` import kind: the credit balance each employee had in the earlier
system, posted once as an explained OPENING_BALANCE ledger entry (``ledger.post_opening_balances``
through ``history_records.post_opening_balances``, which judges a row by the same checks).

Natural key: the employee number (one opening balance per employee). The same amount again is
unchanged; another amount is OPENING_BALANCE_POSTED (HR corrects a balance with adjustCredits,
never by importing again). The export lists the posted balances in the same columns, so export →
import changes nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from backend.errors import DomainError, ErrorCode
from backend.models import CreditEntry, CreditEntryKind, Employee, Tenant
from backend.services.credits import ledger
from backend.services.imports.files import WriteCell
from backend.services.imports.history_lines import employee_number
from backend.services.imports.history_records import MAX_SOURCE, OpeningRow, RowStatus, opening_amount
from backend.services.imports.history_records import post_opening_balances as post
from backend.services.imports.kinds import KEY_CHUNK, CheckedFile, ImportKind, JobContext, Reference, WriteRun
from backend.services.imports.problems import from_error
from backend.services.imports.rows import Cells, Column
from backend.services.validation import invalid, text

_ROWS = "opening"  # notes: number -> (row, tenths) of the good rows; then number -> (employee id, tenths posted)
_SEPARATOR = " · "  # of an opening entry's reason: "<source> · <as-of day>"


@dataclass(frozen=True)
class OpeningLine:
    """One row, checked: whose balance (number), how much (tenths), as of which day, from where."""

    employee_no: str
    amount: int
    as_of: date
    source: str


class OpeningBalancesKind(ImportKind[OpeningLine]):
    """Opening credit balances (see the module docstring)."""

    name = "opening_balances"
    title_zh = "期初学分余额"
    title_en = "Opening credit balances"
    entity = "CreditEntry"
    key_column = "employee_no"
    columns = (
        Column("employee_no", "工号", "Employee no.", True, "公司已有的员工；每人一行", "an employee; one row each"),
        Column(
            "amount",
            "期初学分",
            "Opening balance",
            True,
            "原系统中的可用学分，大于 0，最多 1 位小数",
            "the spendable credits in the earlier system, more than 0, one decimal place",
        ),
        Column(
            "as_of",
            "截至日期",
            "As of",
            True,
            "YYYY-MM-DD，余额统计的日期，不晚于今天",
            "YYYY-MM-DD, the day the balance was taken, not after today",
            field="asOf",
        ),
        Column(
            "source",
            "来源",
            "Source",
            True,
            "原系统名称，如 旧学分系统，最长 64 字（记入学分明细的说明）",
            "the earlier system, e.g. Old credits; up to 64 (shown with the entry)",
        ),
    )

    def parse(self, cells: Cells, context: JobContext) -> OpeningLine:
        as_of = cells.day("as_of", not_after=context.today)
        cells.check()
        number = employee_number(cells.text("employee_no"))
        amount = opening_amount(cells.text("amount") or "")
        if as_of is None:
            raise invalid("asOf", "reason.required")
        source = text(cells.text("source"), "source", MAX_SOURCE)
        return OpeningLine(number, amount, as_of, source)

    def key(self, row: OpeningLine) -> str:
        return row.employee_no

    def references(self, row: OpeningLine) -> Iterable[Reference]:
        yield Reference("employee_no", "employees", row.employee_no)

    def note(self, checked: CheckedFile, number: int, row: OpeningLine) -> None:
        checked.notes.setdefault(_ROWS, {})[row.employee_no] = (number, row.amount)

    async def check_file(self, checked: CheckedFile, context: JobContext) -> None:
        """OPENING_BALANCE_POSTED for an employee whose opening balance was posted with another
        amount; what the write pass needs: ids and the amounts posted before, by number."""
        rows: dict[str, tuple[int, int]] = checked.notes.pop(_ROWS, {})
        numbers, ids = sorted(rows), dict[str, int]()
        for start in range(0, len(numbers), KEY_CHUNK):
            chunk = numbers[start : start + KEY_CHUNK]
            ids.update(
                await Employee.filter(tenant_id=context.tenant_id, employee_no__in=chunk).values_list(
                    "employee_no", "id"
                )
            )
        posted = await _posted(context.tenant_id, list(ids.values()))
        column = checked.header.column_name("amount")
        for number, (row, tenths) in rows.items():
            before = posted.get(ids.get(number, 0))
            if before is not None and before != tenths:
                error = invalid("amount", "reason.opening_balance_posted", amount=str(ledger.from_tenths(before)))
                checked.problems.add(from_error(row, column, error))
        checked.notes[_ROWS] = {number: (employee_id, posted.get(employee_id)) for number, employee_id in ids.items()}

    async def known_keys(self, tenant_id: int, keys: Sequence[str]) -> set[str]:
        return set()  # no other kind names an opening balance

    async def apply(self, run: WriteRun, rows: Sequence[tuple[int, OpeningLine]]) -> None:
        known: dict[str, tuple[int, int | None]] = run.notes[_ROWS]
        fresh = [(number, row) for number, row in rows if known[row.employee_no][1] is None]
        run.counts.unchanged += len(rows) - len(fresh)
        run.counts.created += len(fresh)
        if not run.write or not fresh:
            return
        openings = [
            OpeningRow(known[row.employee_no][0], ledger.from_tenths(row.amount), row.as_of, row.source)
            for _, row in fresh
        ]
        outcomes = await post(run.connection, run.tenant_id, openings, run.changes, run.context.actor_id, run.now)
        for (_, row), outcome in zip(fresh, outcomes):
            if outcome.status != RowStatus.CREATED:
                # Checked before: only an opening balance posted meanwhile (another import) gets here.
                raise outcome.error or DomainError(ErrorCode.ALREADY_EXISTS)
            after = {
                "employeeNo": row.employee_no,
                "kind": CreditEntryKind.OPENING_BALANCE.value,
                "amount": str(ledger.from_tenths(row.amount)),
                "asOf": row.as_of.isoformat(),
                "source": row.source,
            }
            run.audit("import.creditentry.create", self.entity, outcome.entry_id, None, after)
        await run.flush()

    async def export_rows(self, tenant_id: int) -> AsyncIterator[dict[str, WriteCell]]:
        zone = ZoneInfo(str(await Tenant.get(id=tenant_id).values_list("time_zone", flat=True)))
        last: str | None = None
        while True:
            query = CreditEntry.filter(tenant_id=tenant_id, kind=CreditEntryKind.OPENING_BALANCE)
            if last is not None:
                query = query.filter(employee__employee_no__gt=last)
            page = (
                await query.order_by("employee__employee_no")
                .limit(KEY_CHUNK)
                .values("employee__employee_no", "amount", "occurred_at", "reason")
            )
            for entry in page:
                yield _cells(entry, zone)
            if len(page) < KEY_CHUNK:
                return
            last = page[-1]["employee__employee_no"]


def _cells(entry: dict[str, Any], zone: ZoneInfo) -> dict[str, WriteCell]:
    """A posted opening entry in the import's columns (its reason reads "<source> · <as-of day>")."""
    occurred: datetime = entry["occurred_at"]
    reason = str(entry["reason"])
    return {
        "employee_no": entry["employee__employee_no"],
        "amount": ledger.from_tenths(entry["amount"]),
        "as_of": occurred.astimezone(zone).date(),
        "source": reason.rsplit(_SEPARATOR, 1)[0] if _SEPARATOR in reason else reason,
    }


async def _posted(tenant_id: int, employee_ids: list[int]) -> dict[int, int]:
    """The opening balances (tenths) posted before, by employee id."""
    found: dict[int, int] = {}
    for start in range(0, len(employee_ids), KEY_CHUNK):
        keys = [ledger.opening_key(e) for e in employee_ids[start : start + KEY_CHUNK]]
        for employee_id, amount in await CreditEntry.filter(tenant_id=tenant_id, entry_key__in=keys).values_list(
            "employee_id", "amount"
        ):
            found[int(employee_id)] = int(amount)
    return found
