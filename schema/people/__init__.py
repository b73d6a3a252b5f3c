"""GraphQL of employees and colleagues, and the viewer (`me`) (backend/services/people/directory.py)."""
