"""The error every fetcher raises for a problem a person can fix (CLI exit 2)."""

from __future__ import annotations

from gridhash.errors import InputError


class FeedError(InputError):
    """A data source refused, failed or answered something unusable; the message names
    the source (URL without credentials), what was asked and what was expected."""
