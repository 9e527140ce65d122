"""BENCHMARKS.md sections: each benchmark owns one ``## Name`` section and rewrites it."""

from __future__ import annotations

import re
from pathlib import Path

HEADER = (
    "# Benchmarks\n\n"
    "Each section belongs to one part of the product and says how to reproduce it.\n"
)


def write_section(path: Path, name: str, body: str) -> None:
    """Replace (or append) the ``## name`` section of the markdown file at ``path``.

    ``body`` may start with the section's own heading; the other sections stay as they are.
    """
    text = path.read_text() if path.exists() else HEADER
    heading = f"## {name}\n"
    section = body.strip() + "\n" if body.startswith(heading) else f"{heading}\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(name)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text)
