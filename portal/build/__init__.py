"""The build: what changed, each customer's page, the full and incremental builds, the state,
publishing, staff files."""
