"""`python -m services.tracking`: the command the tracking image and `tme dev` run."""

from services.shared.serve import run
from services.tracking.settings import TrackingSettings

if __name__ == "__main__":
    run("services.tracking.app:create_app", TrackingSettings())
