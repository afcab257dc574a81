"""Bringing contacts and their accounts in from a CSV file."""
