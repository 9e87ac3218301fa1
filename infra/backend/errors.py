"""The one error type of `kiva backend`: a message a person can act on, and exit code 2."""

from __future__ import annotations


class BackendError(Exception):
    """A bad URL, a refused region, an unreachable endpoint or an unusable stack: exit 2, one line.

    `str()` is the complete, user-facing message. It never contains credentials.
    """

    exit_code = 2
