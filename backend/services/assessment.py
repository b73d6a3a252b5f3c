"""Rubrics and mentor evaluations (the MENTOR_EVALUATION record kind)."""
