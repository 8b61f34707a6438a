"""Plain terminal I/O for `ida label`: single keystrokes in cbreak mode, a small line editor, whole
screen redraws and the terminal size. No curses, no prompt_toolkit: termios, select and ANSI codes.

cbreak keeps ISIG, so Ctrl-C still raises KeyboardInterrupt (the session turns it into exit 130).
A closed terminal (EOF on stdin) raises EOFError: the session ends as if the person had quit."""

from __future__ import annotations

import codecs
import os
import select
import signal
import sys
import termios
import tty
from collections.abc import Callable
from typing import Any, Protocol, TextIO

ESC = "\x1b"
HOME, CLEAR_LINE, CLEAR_DOWN = "\x1b[H", "\x1b[K", "\x1b[J"
_ARROWS = {"A": "up", "B": "down", "C": "right", "D": "left", "H": "home", "F": "end"}


class Term(Protocol):
    """What the session needs from a terminal (a fake one drives the session in tests)."""

    def size(self) -> tuple[int, int]:
        """(columns, rows)."""
        ...

    def draw(self, screen: str) -> None:
        """Replace the whole screen with `screen` (lines of at most `columns` cells)."""
        ...

    def read_key(self) -> str:
        """One keystroke: a character, or enter, esc, backspace, up, down, ctrl-d, resize."""
        ...

    def read_line(
        self, prompt: str, initial: str = "", redraw: Callable[[], None] | None = None
    ) -> str | None:
        """A line typed on the bottom row after `prompt`; None when the person presses Esc."""
        ...


class Terminal:
    """The real terminal on stdin/stdout. Use as a context manager: cbreak mode on entry, the
    terminal's own settings restored on exit (also after an exception)."""

    def __init__(self, fd: int = 0, out: TextIO | None = None) -> None:
        self.fd = fd
        self.out = out or sys.stdout
        self._saved: list[Any] | None = None
        self._resized = False
        self._previous_winch: Any = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def __enter__(self) -> Terminal:
        self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)
        self._previous_winch = signal.signal(signal.SIGWINCH, self._on_winch)
        self.out.write("\x1b[?25l")  # hide the cursor while keys drive the screen
        self.out.flush()
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGWINCH, self._previous_winch or signal.SIG_DFL)
        if self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
        self.out.write("\x1b[?25h\r\n")
        self.out.flush()

    def _on_winch(self, signum: int, frame: Any) -> None:
        self._resized = True

    def size(self) -> tuple[int, int]:
        for fd in (self.out.fileno(), self.fd):
            try:
                s = os.get_terminal_size(fd)
                return s.columns, s.lines
            except OSError:
                continue
        return 80, 24

    def draw(self, screen: str) -> None:
        body = screen.replace("\n", CLEAR_LINE + "\n")
        self.out.write(HOME + body + CLEAR_LINE + CLEAR_DOWN)
        self.out.flush()

    # -- input ----------------------------------------------------------------------------------
    def _ready(self, timeout: float) -> bool:
        r, _, _ = select.select([self.fd], [], [], timeout)
        return bool(r)

    def _byte(self) -> bytes:
        b = os.read(self.fd, 1)
        if not b:
            raise EOFError("the terminal closed")
        return b

    def _char(self) -> str:
        """One character, or '' for a resize; blocks until there is one."""
        while True:
            if self._resized:
                self._resized = False
                return ""
            if not self._ready(0.25):
                continue
            out = self._decoder.decode(self._byte())
            while not out:  # the rest of a UTF-8 sequence
                out = self._decoder.decode(self._byte())
            return out

    def read_key(self) -> str:
        ch = self._char()
        if ch == "":
            return "resize"
        if ch == ESC:
            if not self._ready(0.05):
                return "esc"
            seq = self._char()
            if seq in ("[", "O"):
                final = ""
                while self._ready(0.05):
                    final = self._char()
                    if final and ("@" <= final <= "~") and final not in "0123456789;":
                        break
                return _ARROWS.get(final, "unknown")
            return "unknown"
        if ch in ("\r", "\n"):
            return "enter"
        if ch in ("\x7f", "\x08"):
            return "backspace"
        if ch == "\x04":
            return "ctrl-d"
        if ch == "\x15":
            return "ctrl-u"
        if ch == "\x17":
            return "ctrl-w"
        return ch

    def read_line(
        self, prompt: str, initial: str = "", redraw: Callable[[], None] | None = None
    ) -> str | None:
        columns, rows = self.size()
        text = initial
        self.out.write("\x1b[?25h")
        try:
            while True:
                room = max(columns - len(prompt) - 1, 10)
                shown = text if len(text) <= room else "…" + text[-(room - 1) :]
                self.out.write(f"\x1b[{rows};1H\r{prompt}{shown}{CLEAR_LINE}")
                self.out.flush()
                key = self.read_key()
                if key == "enter":
                    return text
                if key == "esc":
                    return None
                if key == "resize":
                    columns, rows = self.size()
                    if redraw:
                        redraw()
                elif key == "backspace":
                    text = text[:-1]
                elif key == "ctrl-u":
                    text = ""
                elif key == "ctrl-w":
                    text = text.rstrip()
                    text = text[: text.rfind(" ") + 1] if " " in text else ""
                elif key == "ctrl-d":
                    if not text:
                        return None
                elif len(key) == 1 and key.isprintable():
                    text += key
        finally:
            self.out.write("\x1b[?25l")
            self.out.flush()
