"""Where commands write: results to stdout, diagnostics to stderr, colour per stream.

`cli.main` makes the one Output of a run and hands it to the command; no other module
writes to a stream.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TextIO

from compiler.errors import Problem

COLOURS = {"red": "31", "green": "32", "yellow": "33", "bold": "1"}


def painted(text: str, colour: str | None, on: bool) -> str:
    return f"\033[{COLOURS[colour]}m{text}\033[0m" if on and colour else text


class Output:
    """Where commands write: results to stdout, diagnostics to stderr.

    Colour is decided per stream: `lint 2>log` on a terminal colours stdout only.
    """

    def __init__(self, out: TextIO, err: TextIO, colour: bool = False) -> None:
        self.out = out
        self.err = err
        self.out_colour = colour
        self.err_colour = colour
        # Every known secret value is hidden from what we print (secretenv.redact_text);
        # only `secret` writes a value, to stdout, with `secret_result`.
        self.secrets: list[str] = []

    def choose_colour(self, mode: str, environ: Mapping[str, str]) -> None:
        """--color: always, never, or auto (a terminal, and NO_COLOR unset), per stream."""
        for stream, attribute in ((self.out, "out_colour"), (self.err, "err_colour")):
            if mode == "auto":
                setattr(self, attribute, stream.isatty() and not environ.get("NO_COLOR"))
            else:
                setattr(self, attribute, mode == "always")

    def paint(self, text: str, colour: str) -> str:
        """Text for stdout, coloured when stdout is."""
        return painted(text, colour, self.out_colour)

    def redact(self, text: str) -> str:
        from compiler.secretenv import redact_text

        return redact_text(text, self.secrets) if self.secrets else text

    def say(self, text: str = "") -> None:
        print(self.redact(text), file=self.out)

    def write(self, text: str) -> None:
        """Results as they are (no newline added), redacted like every line."""
        self.out.write(self.redact(text))

    def secret_result(self, text: str) -> None:
        """The one unredacted write: the `secret` command's Secret, to stdout."""
        self.out.write(text)

    def note(self, text: str, colour: str | None = None) -> None:
        print(painted(self.redact(text), colour, self.err_colour), file=self.err)

    def finding(self, line: str, severity: str) -> None:
        self.note(line, "red" if severity == "error" else "yellow")

    def warnings(self, problems: Iterable[Problem]) -> None:
        """A spec's warnings, on stderr."""
        for problem in problems:
            self.note(problem.render(), "yellow")
