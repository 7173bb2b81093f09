"""Pydantic models of TOML tables, and the one translation of their errors into house wording.

The spec and the playbook declare their tables as subclasses of ``Table``. A table refuses
unknown keys before anything else, as a person reads it top down; a field says how its
refusal reads with ``phrased``; a check that spans keys raises ``refuse``. Pydantic's own
errors (a missing key, a wrong type) are worded here from the error's type and place, so
every refusal a user sees has the same shape: ``<file>: <where> <what is wrong>``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

__all__ = ["Loc", "Table", "Wording", "phrased", "refusal", "refuse", "refuse_value"]

Loc = tuple[int | str, ...]
_OURS = ("refused", "refused_value", "unknown_key")
# How a place in the file reads in a message: ("tiers", "cuts", 0) -> "[tiers] cuts[0]".
Where = Callable[[Loc], str]


class Table(BaseModel):
    """A TOML table: strict types (TOML has them), no unknown keys, read-only once read."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, populate_by_name=False)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        # Checked before the fields so an unknown key is named rather than what it hides.
        if isinstance(data, Mapping):
            allowed = sorted(f.alias or name for name, f in cls.model_fields.items())
            unknown = sorted(str(k) for k in set(data) - set(allowed))
            if unknown:
                raise PydanticCustomError(
                    "unknown_key", "unknown key", {"key": unknown[0], "allowed": ", ".join(allowed)}
                )
            cls._check_keys(data)
        return data

    @classmethod
    def _check_keys(cls, data: Mapping[str, Any]) -> None:
        """A table whose keys depend on each other (one of several) checks them here,
        before the values, as a person reads the table."""


def refuse(message: str) -> PydanticCustomError:
    """A refusal whose message names its own table and key ("[tiers] cuts name a tier twice")."""
    return PydanticCustomError("refused", "{message}", {"message": message})


def refuse_value(tail: str, *, of_table: bool = False) -> PydanticCustomError:
    """A refusal of the value at the error's place; the place is put in front of ``tail``.
    ``of_table``: a key's check that reads as said of its whole table."""
    return PydanticCustomError("refused_value", "{tail}", {"tail": tail, "up": int(of_table)})


def phrased(tail: Callable[[Any], str], *, items: bool = True) -> WrapValidator:
    """Word every refusal of a field's value as ``<where> <tail(value)>``, whatever the
    reason (wrong type or out of range), so the message says what the key must hold.
    ``items=False``: the items are tables whose own refusals keep their words."""

    def wrap(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError as exc:
            if any((e["loc"] and not items) or e["type"] in _OURS for e in exc.errors()):
                raise
            raise refuse_value(tail(value)) from None

    return WrapValidator(wrap)


# Wording of pydantic's own error types, by type: a function of (where, the error).
Wording = Mapping[str, Callable[[str, ErrorDetails], str]]


def refusal(exc: ValidationError, *, where: Where, wording: Wording) -> str:
    """The first refusal of ``exc`` as one sentence, without the file's name.

    Pydantic reports every problem; a person is shown one, the first in reading order,
    except that a missing key outranks problems beside or below it in the same table."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    for e in sorted(errors, key=lambda e: len(e["loc"])):
        if e["type"] == "missing" and _within(first["loc"], e["loc"][:-1]):
            first = e
            break
    loc: Loc = tuple(first["loc"])
    kind = first["type"]
    ctx: Mapping[str, Any] = first.get("ctx") or {}
    if kind == "refused":
        return str(ctx["message"])
    if kind == "refused_value":
        return f"{where(loc[: len(loc) - ctx['up']])} {ctx['tail']}"
    if kind == "unknown_key":
        return f"unknown key '{ctx['key']}' in {where(loc)} (allowed: {ctx['allowed']})"
    word = wording.get(kind) or wording["*"]
    return word(where(loc), first)


def _within(loc: Sequence[int | str], table: Sequence[int | str]) -> bool:
    return tuple(loc[: len(table)]) == tuple(table)
