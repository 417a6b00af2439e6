"""Subscriber: consumes the event stream into PostgreSQL (consumer loop in the lifespan)."""

from __future__ import annotations

from starlette.applications import Starlette

from services.shared.app import create_service_app
from services.subscriber.settings import SubscriberSettings


def create_app(settings: SubscriberSettings | None = None) -> Starlette:
    settings = settings or SubscriberSettings()
    return create_service_app(settings=settings, routes=[])
