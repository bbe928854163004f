"""Progress bars with ETA for long CLI jobs (tqdm: one small, dependency-free library).

Shown on stderr when it is a terminal (``--progress auto``), so logs and pipes stay clean;
``--progress always`` forces them (CI logs), ``never`` hides them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm  # type: ignore[import-untyped]  # tqdm ships no type hints

T = TypeVar("T")
MODES = ("auto", "always", "never")
_mode = "auto"


def set_mode(mode: str) -> None:
    global _mode
    _mode = mode


def progress(items: Iterable[T], *, total: int | None, desc: str, unit: str) -> Iterator[T]:
    disable = {"auto": None, "always": False, "never": True}[_mode]
    bar = tqdm(items, total=total, desc=desc, unit=f" {unit}", file=sys.stderr,
               disable=disable, dynamic_ncols=True)  # fmt: skip
    yield from bar
