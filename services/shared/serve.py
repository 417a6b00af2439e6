"""Run one service under uvicorn with its settings: the command every image and `tme dev` use
(`python -m services.<name>`)."""

from __future__ import annotations

import os

import uvicorn

from services.shared.settings import ServiceSettings


def run(factory: str, settings: ServiceSettings) -> None:
    workers = int(os.environ.get("TME_WORKERS", "1"))
    uvicorn.run(
        factory,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        access_log=False,
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("TME_FORWARDED_ALLOW_IPS", "127.0.0.1"),
        timeout_graceful_shutdown=int(os.environ.get("TME_GRACEFUL_SHUTDOWN_SECONDS", "25")),
    )
