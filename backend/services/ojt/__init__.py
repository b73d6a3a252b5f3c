"""On-the-job training: quizzes (authoring, grading), practice, mentorships, rubrics, evaluations, skills."""
