"""Interleaved output of several processes, each line prefixed with its process name
(coloured when writing to a terminal)."""

from __future__ import annotations

import os
import sys
import threading
from collections import deque
from typing import IO

COLOURS = ("36", "33", "35", "32", "34", "31", "96", "93", "95", "92")
RESET = "\x1b[0m"


def colour_wanted(stream: IO[str], env: dict[str, str] | os._Environ = os.environ) -> bool:
    """Colour on a TTY; NO_COLOR turns it off, FORCE_COLOR on (https://no-color.org)."""
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class LinePrefixer:
    """Writes ``name | line`` for each line; thread-safe, keeps each process's last lines."""

    def __init__(
        self,
        stream: IO[str] | None = None,
        *,
        colour: bool | None = None,
        names: list[str] | tuple[str, ...] = (),
        tail_lines: int = 40,
    ) -> None:
        self.stream = stream or sys.stdout
        self.colour = colour_wanted(self.stream) if colour is None else colour
        self.width = max((len(n) for n in names), default=0)
        self._colours: dict[str, str] = {}
        for name in names:
            self._colour_of(name)
        self._tails: dict[str, deque[str]] = {}
        self._tail_lines = tail_lines
        self._lock = threading.Lock()

    def _colour_of(self, name: str) -> str:
        if name not in self._colours:
            self._colours[name] = COLOURS[len(self._colours) % len(COLOURS)]
        return self._colours[name]

    def prefix(self, name: str) -> str:
        label = f"{name:<{self.width}} |"
        if self.colour:
            return f"\x1b[{self._colour_of(name)}m{label}{RESET}"
        return label

    def format(self, name: str, line: str) -> str:
        return f"{self.prefix(name)} {line.rstrip(chr(10)).rstrip(chr(13))}"

    def emit(self, name: str, line: str) -> None:
        with self._lock:
            self._tails.setdefault(name, deque(maxlen=self._tail_lines)).append(line.rstrip("\r\n"))
            self.stream.write(self.format(name, line) + "\n")
            self.stream.flush()

    def tail(self, name: str) -> list[str]:
        with self._lock:
            return list(self._tails.get(name, ()))

    def pump(self, name: str, source: IO[bytes]) -> None:
        """Copy a child's output, line by line, until it closes (run in a thread)."""
        for raw in iter(source.readline, b""):
            self.emit(name, raw.decode("utf-8", errors="replace"))
        source.close()
