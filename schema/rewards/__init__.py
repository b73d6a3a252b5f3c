"""GraphQL of the rewards store and redemptions (backend/services/credits/rewards.py)."""
