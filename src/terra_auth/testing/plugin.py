"""pytest plugin for users' own test suites."""
