"""Event ingest on the gateway: native, seed-compatible and Segment-compatible endpoints that
validate and enrich events and append each accepted request to the Redis event stream.

`ingest_routes()` is what the gateway's app mounts; the routes use `app.state.redis`,
`app.state.users` (httpx client of the users service) and `app.state.settings`."""

from services.gateway.ingest.routes import ingest_routes

__all__ = ["ingest_routes"]
