"""GraphQL for private calendar feeds (backend.services.calendars)."""
