"""The ``gfm`` command: one thin module a sub-command over the typed library."""
