"""Errors that carry a title, the cause and the next thing to try, so every front end can show them well."""

from __future__ import annotations


class BncertError(Exception):
    """Base error: `title` is one line, `hint` says what to do next."""

    exit_code = 1

    def __init__(self, title: str, detail: str = "", hint: str = "") -> None:
        super().__init__(title)
        self.title = title
        self.detail = detail
        self.hint = hint

    def __str__(self) -> str:
        parts = [self.title]
        if self.detail:
            parts.append(self.detail)
        if self.hint:
            parts.append(f"What to do: {self.hint}")
        return "\n".join(parts)


class InputError(BncertError):
    """Bad input from the user: nothing was touched (exit code 2)."""

    exit_code = 2


class StackError(BncertError):
    """The install dir or web server is not usable as it is (nothing was touched)."""

    exit_code = 2


class ApplyError(BncertError):
    """A step failed after changes started; everything was rolled back (exit code 1)."""

    exit_code = 1
