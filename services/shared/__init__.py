"""Code shared by the four Track My Events services: settings, database, Redis, HTTP plumbing,
metrics, tracing and logging. Services import from here; nothing here imports a service."""
