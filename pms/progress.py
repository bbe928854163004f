"""Progress bars with ETA for long CLI jobs (tqdm: one small, dependency-free library).

Shown on stderr when it is a terminal (``--progress auto``), so logs and pipes stay clean;
``--progress always`` forces them (CI logs), ``never`` hides them. Two shapes over the same
bar: ``progress(items)`` wraps an iterable; ``ProgressBar`` is a ``(done, total)``
callback for services that report as they go (exports, imports, rebuilds).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from tqdm import tqdm  # type: ignore[import-untyped]  # tqdm ships no type hints

T = TypeVar("T")
MODES = ("auto", "always", "never")
_mode = "auto"
# One format everywhere: "exports: 42%|####      | 420/1000 rows [00:03<00:04] ETA 00:04".
FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt}{unit} [{elapsed}<{remaining}] ETA {remaining}"


def set_mode(mode: str) -> None:
    global _mode
    _mode = mode


def _disabled(force: bool = False) -> bool | None:
    """tqdm's ``disable``: None = only on a terminal."""
    if force:
        return False
    return {"auto": None, "always": False, "never": True}[_mode]


def _bar(total: int | None, desc: str, unit: str, force: bool = False) -> Any:
    return tqdm(total=total, desc=desc, unit=f" {unit}", file=sys.stderr, bar_format=FORMAT,
                disable=_disabled(force), dynamic_ncols=True)  # fmt: skip


def progress(items: Iterable[T], *, total: int | None, desc: str, unit: str) -> Iterator[T]:
    with _bar(total, desc, unit) as bar:
        for item in items:
            yield item
            bar.update(1)


class ProgressBar:
    """A ``(done, total)`` callback drawing one bar; ``force`` (a command's own
    ``--progress`` flag) shows it even when stderr is not a terminal."""

    def __init__(self, force: bool = False, *, desc: str = "progress", unit: str = "rows") -> None:
        self._bar: Any = None
        self._args = (desc, unit, force)

    def __call__(self, done: int, total: int) -> None:
        desc, unit, force = self._args
        if self._bar is None:
            self._bar = _bar(total, desc, unit, force)
        self._bar.total = total
        self._bar.n = done
        self._bar.refresh()
        if done >= total:
            self._bar.close()
