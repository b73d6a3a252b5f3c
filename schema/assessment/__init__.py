"""GraphQL of mentor evaluations (backend/services/ojt/assessment.py): drafts, submissions, superseding."""
