"""The store: the only package that knows databases."""

from heedful.store.backend import DatabaseURL, Store, connect

__all__ = ["DatabaseURL", "Store", "connect"]
