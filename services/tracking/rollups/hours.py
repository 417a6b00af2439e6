"""The rollups' UTC hour and day buckets, as SQL expressions over a timestamptz column."""

EPOCH = "TIMESTAMPTZ '2000-01-01 00:00:00+00'"


def hour_of(column: str) -> str:
    return f"date_bin('1 hour', {column}, {EPOCH})"


def day_of(column: str) -> str:
    return f"date_bin('1 day', {column}, {EPOCH})"
