"""On-the-job training: quizzes (authoring, grading), practice, mentorships, rubrics, evaluations, skills, and OJT
plans with their assignments (plans, assignments, plan_status)."""
