"""Data lifecycle: the asynchronous jobs that delete data (a project's deletion, one person's
erasure, retention), the retention schedule, exports and imports. The jobs run in the tracking
service (runner.py); the users service asks for them (services/lifecycle/jobs.py)."""
