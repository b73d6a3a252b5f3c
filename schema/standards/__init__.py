"""GraphQL of the company's data standards (backend/services/people/standards.py)."""
