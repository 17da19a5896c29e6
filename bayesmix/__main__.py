"""``python -m bayesmix``: the same as the ``bayesmix`` command."""

from bayesmix.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
