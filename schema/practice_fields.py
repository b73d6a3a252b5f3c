"""Mentorship and practice fields: mentorships (HR), practice logs (PRACTICE_LOG online twin),
and the mentor's confirm / reject (the same services as synced records)."""

from __future__ import annotations

import strawberry


@strawberry.type
class PracticeQueries:
    pass


@strawberry.type
class PracticeMutations:
    pass
