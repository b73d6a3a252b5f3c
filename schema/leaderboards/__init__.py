"""GraphQL of leaderboards (backend/services/credits/leaderboards.py)."""
