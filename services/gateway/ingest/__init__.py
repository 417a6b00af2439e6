"""Event ingest on the gateway: native, seed-compatible and Segment-compatible endpoints that
validate and enrich events and append each accepted request to the Redis event stream.

`ingest_routes()` is what the gateway's app mounts; the routes use the gateway's state
(services/gateway/state.py): its Redis client, its client of the users service and its ingest
state."""

from services.gateway.ingest.routes import ingest_routes

__all__ = ["ingest_routes"]
