"""GraphQL of courses, their modules, skills and eligibility (backend/services/catalog/course_catalog.py)."""
