"""Typed API routes: the models of public shapes, the endpoints that take and return them, and the
OpenAPI document generated from both (one definition of every shape)."""
