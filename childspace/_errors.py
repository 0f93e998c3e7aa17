"""Errors and warnings that name the file, the feature and the fix."""

from __future__ import annotations

from pathlib import Path


class ChildspaceError(Exception):
    """Base error: its message is one line a planner can act on.

    Parameters
    ----------
    message : str
        What is wrong.
    path : str or Path, optional
        The file concerned.
    feature : str, optional
        The row/feature concerned (e.g. ``"row 12 (名称=阳光幼儿园)"``).
    fix : str, optional
        What to do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        feature: str | None = None,
        fix: str | None = None,
    ):
        self.message = message
        self.path = str(path) if path is not None else None
        self.feature = feature
        self.fix = fix
        super().__init__(self.__str__())

    def __str__(self) -> str:
        parts = []
        if self.path:
            parts.append(f"{self.path}:")
        if self.feature:
            parts.append(f"{self.feature}:")
        parts.append(self.message)
        text = " ".join(parts)
        if self.fix:
            text += f" -> fix: {self.fix}"
        return text


class DataError(ChildspaceError):
    """Input data that cannot be used as it is."""


class NetworkError(ChildspaceError):
    """A walk network that cannot be built or queried."""


class ChildspaceWarning(UserWarning):
    """A problem that was handled (repaired, dropped with a count) and must be reported."""
