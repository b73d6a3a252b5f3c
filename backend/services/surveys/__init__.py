"""Feedback surveys and instructor ratings (issue 20): templates HR writes (``templates``), surveys
attached to a course, a session or a module (``templates`` too), answers arriving as the
``SURVEY_RESPONSE`` record kind online or offline (``answers``), the results HR and the people
rated see, with the anonymity threshold (``results``), and the ratings the instructors and mentors
report reads (``results.ratings_of``). See docs/surveys.md.
"""
