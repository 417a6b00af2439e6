"""Tracking service settings (`TME_*`): query limits, realtime stream, rollup job."""

from __future__ import annotations

from pydantic import Field

from services.shared.settings import ServiceSettings


class TrackingSettings(ServiceSettings):
    service_name: str = "tracking"
    port: int = Field(default=8002, description="Port to listen on")

    # guards on what one analytics request may ask for
    # at most 10 years: funnels pack an event's time and tie key into one 64-bit integer
    max_range_days: int = Field(default=1100, ge=1, le=3660, description="Longest from..to range a query may cover")
    max_buckets: int = Field(default=2000, ge=10, description="Most buckets one timeseries may return")
    query_timeout_seconds: float = Field(default=30.0, gt=0, description="An analytics query taking longer -> 503")

    # realtime
    realtime_window_seconds: int = Field(default=300, ge=10, description="'Visitors right now' look-back")
    stream_poll_seconds: float = Field(default=1.0, gt=0, description="How often the SSE stream looks for new rows")
    stream_keepalive_seconds: float = Field(default=15.0, gt=0, description="Comment line sent when idle")
    stream_max_seconds: float = Field(default=600.0, gt=0, description="An SSE stream ends after this long")
    stream_overlap_seconds: float = Field(
        default=10.0, ge=0,
        description="How far back each poll looks again (rows committed late by concurrent writers are not missed)",
    )

    # rollups: hourly aggregates kept current by a periodic job (0 turns the job off)
    rollup_interval_seconds: float = Field(default=5.0, ge=0, description="How often the rollup job runs")
    rollup_margin_seconds: float = Field(
        default=30.0, ge=0,
        description="Each run also looks at rows stored this long before the last run's start (a writing "
                    "transaction still open then is looked back to wholly, when pg_stat_activity shows it)",
    )
    rollups_enabled: bool = Field(default=True, description="Answer dashboard queries from rollups when possible")
    rollup_min_events: int = Field(
        default=10_000, ge=0,
        description="Ranges with fewer events are answered exactly from raw events; from this size on, rollups "
                    "answer and unique visitors are a HyperLogLog estimate (standard error 3.3%)",
    )
    retention_matrices: int = Field(
        default=6, ge=0,
        description="Retention cohort matrices kept per project (one per time zone and period asked for); "
                    "beyond that, retention in another zone or period is answered from raw events",
    )
    retention_matrix_days: int = Field(
        default=30, ge=1,
        description="A retention matrix nobody asked for in this many days is dropped",
    )

    # data jobs (services/lifecycle): project deletions and erasures, run beside the questions
    data_jobs_interval_seconds: float = Field(
        default=2.0, ge=0, description="How often the data job worker looks for queued jobs (0 turns it off)")
    delete_batch_rows: int = Field(
        default=5000, ge=1, description="Rows one delete batch of a data job removes (one short transaction each)")
    delete_batch_pause_seconds: float = Field(
        default=0.05, ge=0, description="Pause between a data job's delete batches, leaving the database to ingest")

    # retention per project (services/lifecycle/retention.py): the chart runs `tme retention` as a CronJob instead
    retention_interval_seconds: float = Field(
        default=0.0, ge=0,
        description="How often this service runs the retention of every project in-process (0: never; the Helm "
                    "chart's CronJob runs `tme retention` instead, `tme dev` sets 3600)")
