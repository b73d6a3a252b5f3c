"""Training sessions: scheduling, enrollment and its approvals, QR check-in."""
