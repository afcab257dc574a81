"""Helpers shared by the tests: where the services are (env), test-data builders (data), and helpers for
tickets and the workflow (tickets, workflow). Test modules import from here, never from one another."""
