"""GraphQL of skill levels, evidence, recommendations and gaps (backend/services/ojt/skills.py)."""
