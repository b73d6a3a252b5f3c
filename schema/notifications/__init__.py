"""Notifications: the inbox, preferences, push tokens, and HR's channels and wordings."""
