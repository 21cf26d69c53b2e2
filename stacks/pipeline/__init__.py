"""Constructs of the release pipeline stack: promotion links, build projects, release functions, approvals."""
