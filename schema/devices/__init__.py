"""GraphQL for the devices an employee signs in on (backend.services.people.devices)."""
