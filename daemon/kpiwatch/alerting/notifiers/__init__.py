"""Notifier types: the channels alerts are delivered through."""
