"""GraphQL of quizzes: the learner's view and attempts, authoring, grading (backend/services/ojt/quizzes.py, quiz_authoring.py, quiz_grading.py)."""
