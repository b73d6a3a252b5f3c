"""GraphQL of QR check-in, the instructor's kit and roster, held scans (backend/services/sessions/checkin.py)."""
