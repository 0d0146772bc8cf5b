"""The one base class of every problem a user can fix.

Bad configuration, bad input chunks, a card template that does not render, a server that
refuses: each is raised as a subclass of :class:`AdataHfError` whose message names the file,
the key and the fix. The workflow's scripts report these as one clear message without a
traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["AdataHfError", "InputError"]


class AdataHfError(Exception):
    """A problem the user can fix; the message says where and how."""


class InputError(AdataHfError, ValueError):
    """The input chunks (or AnnData objects) cannot make a dataset; the message names the chunk,
    the key and the fix."""
