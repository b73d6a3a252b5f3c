"""GraphQL of courses, their modules, skills and eligibility (backend/services/catalog/course_catalog.py), and
their authoring by HR admins (authoring.py: course_authoring, course_modules, course_requirements, course_versions)."""
