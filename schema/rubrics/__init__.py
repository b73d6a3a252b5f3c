"""GraphQL of rubrics and which module uses which (backend/services/ojt/rubrics.py)."""
