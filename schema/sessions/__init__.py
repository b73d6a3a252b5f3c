"""GraphQL of training sessions and enrollment (backend/services/sessions/training_sessions.py, enrollment.py)."""
