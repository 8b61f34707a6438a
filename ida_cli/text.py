"""Text from a file or a person, made safe to show on a terminal.

A question imported from a file, a free-text answer or a name can hold terminal control sequences
(`ESC ] 2 ; … BEL` retitles the terminal, `ESC [ 41 m` paints it) or bidirectional overrides that
make text read differently from what it is. `visible` writes every such character as an escape
(`\\x1b`, `\\n`, `\\u202e`), so what is shown is exactly what is stored, on one line."""

from __future__ import annotations

NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
CONTROLS = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
# bidirectional marks, embeddings, overrides and isolates (Unicode's Bidi_Control), and the
# zero-width joiners and BOM that can hide inside a token
FORMAT = [
    0x061C,
    0x200B,
    0x200C,
    0x200D,
    0x200E,
    0x200F,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
    0xFEFF,
]
TABLE = {c: NAMED.get(chr(c), f"\\x{c:02x}") for c in CONTROLS} | {c: f"\\u{c:04x}" for c in FORMAT}


def visible(text: str) -> str:
    """`text` with control and bidirectional-formatting characters written as escapes."""
    return text.translate(TABLE)


def visible_lines(text: str) -> str:
    """As `visible`, keeping the line breaks of a multi-line text (a rendered context)."""
    return "\n".join(visible(line) for line in text.split("\n"))
