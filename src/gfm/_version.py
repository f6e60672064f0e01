"""The package's version, in a module of its own: lower floors (data, hub) read it without
going through ``gfm/__init__.py``, whose lazy names reach the network and inference."""

__version__ = "0.1.0"
