"""GraphQL of credit targets and the credit program (backend/services/credits/targets.py)."""
