"""Strawberry's schema-extension hooks run from a plan made once per extension class.

For every operation Strawberry builds four context managers (operation, parsing,
validation, execution) and each one looks up every extension's hook again, wraps it in
``contextlib.contextmanager`` (``functools.update_wrapper`` included) and enters it
through an ``ExitStack``: ~7 % of a money request's CPU in the profiles (bench/README.md,
"GraphQL execution of money mutations"), more than the hooks themselves. ``PlannedRunner``
runs the same hooks, in the same order with the same exception semantics as ``ExitStack``
(entered in order, exited in reverse; an exception is thrown into each generator still
open; the hooks outside one that swallowed it resume normally, and the exception still
leaves the stage, as Strawberry's does), with each class's hooks resolved once.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from functools import cache
from types import TracebackType
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext
from strawberry.utils.await_maybe import await_maybe

# How a hook runs: a generator, an async generator, a plain function or a coroutine.
GEN, ASYNC_GEN, CALL, ASYNC_CALL = range(4)
Step = tuple[Callable[..., Any], int]


def _hook(cls: type[SchemaExtension], name: str) -> Step | None:
    """The hook ``cls`` defines for ``name`` and how to run it; None where it keeps
    SchemaExtension's own (empty) hook, as Strawberry decides."""
    hook = getattr(cls, name)
    if hook is getattr(SchemaExtension, name):
        return None
    if inspect.isgeneratorfunction(hook):
        return hook, GEN
    if inspect.isasyncgenfunction(hook):
        return hook, ASYNC_GEN
    if inspect.iscoroutinefunction(hook):
        return hook, ASYNC_CALL
    if callable(hook):
        return hook, CALL
    raise ValueError(f"Hook {name} on {cls} must be callable, received {hook!r}")


@cache
def _plan(classes: tuple[type[SchemaExtension], ...], name: str) -> tuple[tuple[int, Step], ...]:
    """Which of the extensions (by position) take part in stage ``name``, and how."""
    steps = ((i, _hook(cls, name)) for i, cls in enumerate(classes))
    return tuple((i, step) for i, step in steps if step is not None)


@cache
def _with_results(classes: tuple[type[SchemaExtension], ...]) -> tuple[int, ...]:
    return tuple(
        i for i, cls in enumerate(classes) if cls.get_results is not SchemaExtension.get_results
    )


class _Stage:
    """One lifecycle stage (``name``) of the extensions of one operation."""

    __slots__ = ("classes", "extensions", "name", "open")

    def __init__(
        self,
        extensions: list[SchemaExtension],
        classes: tuple[type[SchemaExtension], ...],
        name: str,
    ) -> None:
        self.extensions = extensions
        self.classes = classes
        self.name = name
        self.open: list[tuple[Any, bool]] = []  # (generator, is async), entered order

    def _steps(self) -> list[tuple[SchemaExtension, Callable[..., Any], int]]:
        extensions = self.extensions
        return [(extensions[i], hook, kind) for i, (hook, kind) in _plan(self.classes, self.name)]

    async def __aenter__(self) -> None:
        # A hook that fails to enter propagates at once, the ones entered before it left
        # open: what Strawberry's ExitStack-based stages do too.
        for extension, hook, kind in self._steps():
            if kind == GEN:
                generator = hook(extension)
                next(generator)
                self.open.append((generator, False))
            elif kind == ASYNC_GEN:
                agenerator = hook(extension)
                await agenerator.__anext__()
                self.open.append((agenerator, True))
            elif kind == ASYNC_CALL:
                await hook(extension)
            else:
                hook(extension)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        return await self._close(exc_type, exc, tb)

    def __enter__(self) -> None:
        for extension, hook, kind in self._steps():
            if kind in (ASYNC_GEN, ASYNC_CALL):
                raise RuntimeError(
                    f"SchemaExtension hook {extension}.{self.name} "
                    "failed to complete synchronously."
                )
            if kind == GEN:
                generator = hook(extension)
                next(generator)
                self.open.append((generator, False))
            else:
                hook(extension)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        pending = exc
        while self.open:
            generator, _ = self.open.pop()
            pending = _close_sync(generator, pending)
        return _finish(exc, pending)

    async def _close(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        pending = exc
        while self.open:
            generator, is_async = self.open.pop()
            if is_async:
                pending = await _close_async(generator, pending)
            else:
                pending = _close_sync(generator, pending)
        return _finish(exc, pending)


def _finish(exc: BaseException | None, pending: BaseException | None) -> bool:
    """Never a suppression (Strawberry's stages drop the ExitStack's answer, so even an
    exception a hook swallowed goes on); a hook's new exception replaces ``exc``."""
    if pending is not None and pending is not exc:
        raise pending
    return False


def _close_sync(
    generator: Generator[None, None, None], pending: BaseException | None
) -> BaseException | None:
    """Resume one generator hook; the exception still pending afterwards."""
    try:
        if pending is None:
            next(generator)
        else:
            generator.throw(pending)
    except StopIteration:
        return None  # finished (and, with an exception thrown in, swallowed it)
    except BaseException as raised:
        return raised
    return RuntimeError("generator didn't stop")


async def _close_async(
    agenerator: AsyncGenerator[None, None], pending: BaseException | None
) -> BaseException | None:
    try:
        if pending is None:
            await agenerator.__anext__()
        else:
            await agenerator.athrow(pending)
    except StopAsyncIteration:
        return None
    except BaseException as raised:
        return raised
    return RuntimeError("generator didn't stop")


class PlannedRunner(SchemaExtensionsRunner):
    """Strawberry's runner with planned stages (stream results keep Strawberry's)."""

    def __init__(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension] | None = None
    ) -> None:
        super().__init__(execution_context, extensions)
        self.classes = tuple(type(extension) for extension in self.extensions)

    def _stage(self, name: str) -> Any:
        return _Stage(self.extensions, self.classes, name)

    async def get_extensions_results(self, ctx: ExecutionContext) -> dict[str, Any]:
        """Strawberry's, asking only the extensions whose class has results to give."""
        data: dict[str, Any] = {}
        for i in _with_results(self.classes):
            data.update(await await_maybe(self.extensions[i].get_results()))
        data.update(ctx.extensions_results)
        return data

    def operation(self) -> Any:
        return self._stage("on_operation")

    def validation(self) -> Any:
        return self._stage("on_validate")

    def parsing(self) -> Any:
        return self._stage("on_parse")

    def executing(self) -> Any:
        return self._stage("on_execute")
