"""Session check-in secrets are stored wrapped (encrypted under the key ring, backend/keyring.py):
``w1.<kid>.<base64url>`` is about 92 characters, so the column grows from 64 to 128. Existing plain
hex secrets stay as they are and keep working; ``xuefen keys rewrap`` wraps them.

The column only widens, so no row is rewritten. PostgreSQL alters the type in place. SQLite does
not enforce a VARCHAR length at all, and tortoise's AlterField would rebuild the table there (losing
its indexes, and failing while other tables reference it): only the declared type in the stored
table definition changes (the documented ``writable_schema`` edit, valid for a change that leaves
the stored rows as they are). Going back narrows the column again, which PostgreSQL refuses while a
wrapped secret is stored (SQLite keeps what it holds).
"""

from tortoise import fields, migrations

from backend.migration_ops import AlterFieldState

SQLITE_DECLARATION = '"secret" VARCHAR({length}) NOT NULL'


class WidenSecret(AlterFieldState):
    """The state change of ``secret``'s new length, and the column's type in the database."""

    def __init__(self, length: int, previous: int) -> None:
        super().__init__(model_name="TrainingSession", name="secret", field=fields.CharField(max_length=length))
        self.length, self.previous = length, previous

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        await self._alter(state_editor, self.previous, self.length)

    async def database_backward(self, app_label, old_state, new_state, state_editor=None) -> None:
        await self._alter(state_editor, self.length, self.previous)

    @staticmethod
    async def _alter(state_editor, old: int, new: int) -> None:
        if state_editor is None:
            return
        client = state_editor.client
        if state_editor.DIALECT != "sqlite":
            await client.execute_script(f'ALTER TABLE "training_session" ALTER COLUMN "secret" TYPE VARCHAR({new})')
            return
        before, after = SQLITE_DECLARATION.format(length=old), SQLITE_DECLARATION.format(length=new)
        _, tables = await client.execute_query(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'training_session'"
        )
        # replace() changes nothing, silently, when the stored text differs from what we expect:
        # refuse then, so the migration is never recorded as applied on a column left as it was.
        found = tables[0][0].count(before) if tables else 0
        if found != 1:
            raise RuntimeError(
                f"migration 0020: expected exactly one {before} in the stored definition of table "
                f"training_session, found {found}; widen the column by hand (docs/key-rotation.md)"
            )
        _, rows = await client.execute_query("PRAGMA schema_version")
        version = rows[0][0]
        await client.execute_script("PRAGMA writable_schema = ON")
        await client.execute_query(
            "UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = 'training_session'",
            [before, after],
        )
        # A new schema version makes every connection read the table's definition again.
        await client.execute_script(f"PRAGMA schema_version = {int(version) + 1}")
        await client.execute_script("PRAGMA writable_schema = OFF")


class Migration(migrations.Migration):
    dependencies = [("xuefen", "0019_persisted_operations")]

    initial = False

    operations = [
        WidenSecret(length=128, previous=64),
    ]
