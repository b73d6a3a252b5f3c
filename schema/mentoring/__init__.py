"""GraphQL of mentorships: who mentors whom in which course (backend/services/ojt/mentoring.py)."""
