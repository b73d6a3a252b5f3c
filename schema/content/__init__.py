"""Lesson content: a module's lesson, course downloads and their authoring."""
