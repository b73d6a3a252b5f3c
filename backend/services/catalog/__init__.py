"""Courses and what an employee has learnt of them (module and course progress)."""
