"""GraphQL of module and course progress and what an employee has learnt (backend/services/catalog/progress.py)."""
