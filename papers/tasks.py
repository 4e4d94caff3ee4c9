"""How a function below the pipeline lets its caller run its independent tasks side by side.

It takes a map function, `map(work, [args, ...]) -> [work(*args), ...]` in call order, and
defaults to `one_by_one`; the pipeline passes its thread map (`pipeline.parallel.parallel_map`),
which the layers below it may not import."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

TaskMap = Callable[[Callable[..., T], list[tuple[Any, ...]]], list[T]]


def one_by_one(work: Callable[..., T], calls: list[tuple[Any, ...]]) -> list[T]:
    """work(*args) for each argument tuple, one after the other, results in call order."""
    return [work(*args) for args in calls]
