"""`python -m services.users`: the command the users image and `tme dev` run."""

from services.users.settings import UsersSettings
from services.shared.serve import run

if __name__ == "__main__":
    run("services.users.app:create_app", UsersSettings())
