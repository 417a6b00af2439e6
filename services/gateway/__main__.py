"""`python -m services.gateway`: the command the gateway image and `tme dev` run."""

from services.gateway.settings import GatewaySettings
from services.shared.serve import run

if __name__ == "__main__":
    run("services.gateway.app:create_app", GatewaySettings())
