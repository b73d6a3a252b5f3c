"""Migration operations that tortoise-orm 1.1 lacks or gets wrong on SQLite.

Use ``AddCheckConstraint`` instead of ``ops.AddConstraint`` for a CHECK on a table that may hold
data. On PostgreSQL it is a plain ``ALTER TABLE … ADD CONSTRAINT``. On SQLite, which cannot add a
CHECK to an existing table, tortoise rebuilds the table: that loses the table's UNIQUE constraints
and fails outright when other tables reference it. There we enforce the same rule with
BEFORE INSERT/UPDATE triggers instead, which need no rebuild.
"""

from __future__ import annotations

from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import CheckConstraint


class AddCheckConstraint(ops.AddConstraint):
    """Add CHECK ``check`` named ``name``; ``sqlite_check`` is the same rule written over
    ``NEW.<column>`` for the SQLite triggers."""

    def __init__(self, model_name: str, check: str, name: str, sqlite_check: str) -> None:
        super().__init__(model_name, CheckConstraint(check=check, name=name))
        self.sqlite_check = sqlite_check

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if state_editor is None or state_editor.DIALECT != "sqlite":
            await super().database_forward(app_label, old_state, new_state, state_editor)
            return
        table = new_state.apps.get_model(f"{app_label}.{self.model_name}")._meta.db_table
        name = self.constraint.name
        for event in ("INSERT", "UPDATE"):
            # Sent as one statement: the schema editor would split the trigger body on ";".
            await state_editor.client.execute_query(
                f'CREATE TRIGGER IF NOT EXISTS "{name}_{event.lower()}" BEFORE {event} ON "{table}" '
                f"FOR EACH ROW WHEN NOT ({self.sqlite_check}) "
                f"BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {name}'); END"
            )

    async def database_backward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if state_editor is None or state_editor.DIALECT != "sqlite":
            await super().database_backward(app_label, old_state, new_state, state_editor)
            return
        for event in ("insert", "update"):
            await state_editor.client.execute_query(f'DROP TRIGGER IF EXISTS "{self.constraint.name}_{event}"')


class EnforceCheckConstraint(AddCheckConstraint):
    """Enforce a CHECK that a ``CreateModel`` in the same migration already declares in its
    options: tortoise 1.1 keeps it in the migration state but leaves it out of CREATE TABLE."""

    def state_forward(self, app_label, state) -> None:
        return None


class AlterFieldState(ops.AlterField):
    """An ``AlterField`` that changes nothing in the database, only the migration state: for a
    change the database does not hold, such as the members listed in a CharEnumField's
    description. ``ops.AlterField`` would rebuild the table on SQLite, losing its UNIQUE
    constraints and indexes."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        return None

    async def database_backward(self, app_label, old_state, new_state, state_editor=None) -> None:
        return None
