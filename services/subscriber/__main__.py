"""`python -m services.subscriber`: the command the subscriber image and `tme dev` run."""

from services.shared.serve import run
from services.subscriber.settings import SubscriberSettings

if __name__ == "__main__":
    run("services.subscriber.app:create_app", SubscriberSettings())
