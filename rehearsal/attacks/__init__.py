"""Attacks the rehearsal plays against the release path; each returns the one line that refused it."""
