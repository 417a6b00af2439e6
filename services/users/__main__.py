"""`python -m services.users`: the command the users image and `tme dev` run."""

from services.shared.serve import run
from services.users.settings import UsersSettings

if __name__ == "__main__":
    run("services.users.app:create_app", UsersSettings())
