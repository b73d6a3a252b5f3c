"""GraphQL operations known by the sha256 of their text: automatic persisted queries (APQ) that
phones registered by sending the text once, and the allow-list that production runs from."""

from __future__ import annotations

from tortoise import fields

from backend.models.base import TimestampedModel


class PersistedOperation(TimestampedModel):
    """One GraphQL document known by the sha256 (hex) of its exact text.

    Not tenant-owned: the schema is the same for every company, and so is a document's hash.
    ``registered`` rows come from a build's manifest (``xuefen operations register``) and form
    the allow-list. Unregistered rows are documents phones sent through APQ, kept so that every
    server process knows them, and capped in number (``XUEFEN_APQ_MAX_STORED``).
    """

    id = fields.IntField(primary_key=True)
    sha256 = fields.CharField(max_length=64, unique=True)
    body = fields.TextField()
    operation_name = fields.CharField(max_length=200, default="")
    operation_type = fields.CharField(max_length=16, default="query")  # query, mutation, subscription
    registered = fields.BooleanField(default=False, db_index=True)

    class Meta:
        table = "persisted_operation"
