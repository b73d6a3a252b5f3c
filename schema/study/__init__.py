"""Study progress: the learner's progress in a module's content and the online twin of
CONTENT_PROGRESS (backend/services/content/study.py)."""
