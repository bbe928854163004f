"""Expected business failures. Services raise these; resolvers map them to typed GraphQL
errors (each has a stable ``code``). Anything else is unexpected and gets masked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str


class DomainError(Exception):
    code: ClassVar[str] = "DOMAIN_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationFailed(DomainError):
    code = "VALIDATION_ERROR"

    def __init__(self, problems: list[FieldProblem]) -> None:
        assert problems, "ValidationFailed needs at least one problem"
        summary = "; ".join(f"{p.field}: {p.message}" for p in problems)
        super().__init__(f"invalid input: {summary}")
        self.problems = problems

    @classmethod
    def single(cls, field: str, message: str) -> ValidationFailed:
        return cls([FieldProblem(field, message)])


class AlreadyExists(DomainError):
    code = "ALREADY_EXISTS"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class NotFound(DomainError):
    code = "NOT_FOUND"
