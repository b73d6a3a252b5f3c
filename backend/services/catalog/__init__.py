"""Courses and what an employee has learnt of them (module and course progress), and how HR admins
write courses: authoring, modules, requirements (eligibility, prerequisites, skills), lifecycle and versions."""
