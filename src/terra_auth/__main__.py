"""``python -m terra_auth`` runs the ``terra-auth`` command."""

from terra_auth.cli import main

if __name__ == "__main__":
    main()
