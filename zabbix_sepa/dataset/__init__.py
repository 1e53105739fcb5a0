"""Frappe-shaped schema and the seeded data generator (tests, benchmark, demo)."""
