"""GraphQL of practice logs and their reviews (backend/services/ojt/practice.py)."""
