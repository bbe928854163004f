"""The planned extension runner runs the hooks exactly as Strawberry's own runner does:
same order in and out, same exceptions seen by each hook, same suppression."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner

from schema.extension_runner import PlannedRunner

LOG: list[str] = []


class Gen(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        LOG.append("gen in")
        try:
            yield
        except ValueError as exc:
            LOG.append(f"gen saw {exc}")
            raise
        LOG.append("gen out")


class AsyncGen(SchemaExtension):
    async def on_operation(self) -> AsyncIterator[None]:
        LOG.append("agen in")
        try:
            yield
        finally:
            LOG.append("agen out")

    async def on_execute(self) -> None:  # a plain coroutine hook runs on entry
        LOG.append("execute called")


class Swallows(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        LOG.append("swallow in")
        try:
            yield
        except ValueError:
            LOG.append("swallowed")


class Replaces(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        try:
            yield
        except ValueError as exc:
            raise KeyError("replaced") from exc


class Quiet(SchemaExtension):  # no hooks: not entered at all
    pass


async def _run(runner_class: type[SchemaExtensionsRunner], classes: list[type], fail: bool) -> Any:
    LOG.clear()
    runner = runner_class(execution_context=None, extensions=[c() for c in classes])  # type: ignore[arg-type]
    outcome: Any = "ok"
    try:
        async with runner.operation():
            async with runner.executing():
                LOG.append("body")
            if fail:
                raise ValueError("boom")
    except Exception as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    return outcome, list(LOG)


@pytest.mark.parametrize(
    "classes",
    [
        [Gen, AsyncGen, Quiet],
        [Swallows, Gen, AsyncGen],
        [Gen, Swallows],
        [Replaces, Gen],
        [Gen, Replaces, AsyncGen],
    ],
)
@pytest.mark.parametrize("fail", [False, True])
async def test_planned_runner_matches_strawberry(classes: list[type], fail: bool) -> None:
    expected = await _run(SchemaExtensionsRunner, classes, fail)
    assert await _run(PlannedRunner, classes, fail) == expected


def test_sync_stage_refuses_async_hooks_like_strawberry() -> None:
    runner = PlannedRunner(execution_context=None, extensions=[AsyncGen()])  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="failed to complete synchronously"), runner.operation():
        pass


class Results(SchemaExtension):
    def get_results(self) -> dict[str, Any]:
        return {"mine": 1}


async def test_results_come_from_the_extensions_that_give_them() -> None:
    class Context:
        extensions_results = {"ctx": 2}

    runner = PlannedRunner(execution_context=None, extensions=[Quiet(), Results()])  # type: ignore[arg-type]
    assert await runner.get_extensions_results(Context()) == {"mine": 1, "ctx": 2}  # type: ignore[arg-type]
