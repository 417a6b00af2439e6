"""Fixtures of the data lifecycle tests, some shared with the tracking tests."""

from __future__ import annotations

from tracking.conftest import rollup_url  # noqa: F401  (a tracking instance answering from rollups whatever the size)
