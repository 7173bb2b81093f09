"""The playbook file's tables as pydantic models: cues, perks, tiers, personal cues, display.

A playbook is read for the tiers of one spec (``read_playbook(data, tiers=...)``): only
those tiers' tables are checked, since a playbook may describe more tiers than one model
uses. The tables are read in the order a person reads them, and what later tables refer
to (the perks declared, the tier tables present) is noted in the validation context as
it is read, so a cue naming an undeclared perk is refused where it stands.
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from tierline.engine.errors import PlaybookError
from tierline.engine.spec_schema import RULE_OPS
from tierline.engine.tables import Loc, Table, phrased, refusal, refuse, refuse_value

__all__ = [
    "COLORS",
    "GIVE_MODES",
    "SHAPES",
    "PerkTable",
    "PersonalTable",
    "PlaybookFile",
    "TierTable",
    "read_playbook",
]

GIVE_MODES = ("always", "uplift")
SHAPES = ("star", "circle", "square", "triangle", "diamond", "hexagon")
COLORS = ("#5b2a86", "#1f5f99", "#1b6e3c", "#8a4b08", "#7a1f3d", "#3d4852")


class PerkTable(Table):
    """``[perks.<name>]``: a cue that costs something, and who is given it."""

    cost: Annotated[float, Field(ge=0), phrased(lambda v: "must be a number >= 0")] = 0.0
    stock: Annotated[int, Field(ge=0), phrased(lambda v: "must be a whole number >= 0")] | None = (
        None
    )
    daily_budget: (
        Annotated[float, Field(ge=0), phrased(lambda v: "must be a number >= 0")] | None
    ) = None
    text: Annotated[str, phrased(lambda v: "must be a non-empty string")] | None = None
    give: Annotated[
        Literal["always", "uplift"], phrased(lambda v: f'must be "always" or "uplift", got {v!r}')
    ] = "always"
    uplift_model: Any = None
    arm: Any = None

    @field_validator("text")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise refuse_value("must be a non-empty string")
        return value

    @model_validator(mode="after")
    def _uplift(self) -> PerkTable:
        version, arm = self.uplift_model, self.arm
        if self.give == "uplift" and (not isinstance(version, str) or not version.strip()):
            raise refuse_value(
                'give = "uplift" needs uplift_model, the model version whose uplift model '
                'decides who gets it (e.g. uplift_model = "v0007")'
            )
        if self.give != "uplift" and (version is not None or arm is not None):
            raise refuse_value('uplift_model and arm apply only with give = "uplift"')
        if arm is not None and (not isinstance(arm, str) or not arm.strip()):
            raise refuse_value("arm must be a non-empty string")
        return self


class CueTable(Table):
    """A cue: a short instruction for staff, perhaps giving a perk."""

    code: str
    text: str
    perk: Any = None

    @classmethod
    def _check_keys(cls, data: Mapping[str, Any]) -> None:
        code, text = data.get("code"), data.get("text")
        if not isinstance(code, str) or not code or not isinstance(text, str) or not text:
            raise refuse_value("needs a non-empty code and text")

    @field_validator("perk")
    @classmethod
    def _perk_declared(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and value not in (info.context or {}).get("perks", ()):
            raise refuse_value(
                f"names perk '{value}', which is not declared under [perks]", of_table=True
            )
        return value


class TierTable(Table):
    """``[tiers.<name>]``: how a tier is shown (label, colour, shape, tickets) and served."""

    cues: list[CueTable]  # first: a tier is refused for its cues before its tickets
    label: Any = None
    color: Any = None
    shape: Any = None
    tickets: (
        Annotated[
            list[int],
            Field(min_length=2, max_length=2),
            phrased(lambda v: "must be [first, last] with 0 < first <= last"),
        ]
        | None
    ) = None

    @classmethod
    def _check_keys(cls, data: Mapping[str, Any]) -> None:
        cues = data.get("cues")
        if not isinstance(cues, list) or not cues:
            raise refuse_value("needs at least one cue (nobody is 'ignore')")

    @field_validator("tickets")
    @classmethod
    def _in_order(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and not 0 < value[0] <= value[1]:
            raise refuse_value("must be [first, last] with 0 < first <= last")
        return value

    def tickets_at(self, index: int) -> tuple[int, int]:
        """The ticket range, by default a thousand numbers per tier in the spec's order."""
        lo = 1000 * (index + 1)
        first, last = self.tickets or (lo, lo + 999)
        return first, last


class PersonalWhen(Table):
    """A personal cue's condition: a column and exactly one test, read as a tier rule."""

    column: Any = None
    equals: Any = None
    in_: Any = Field(None, alias="in")
    min: Any = None
    max: Any = None
    present: Any = None

    @classmethod
    def _check_keys(cls, data: Mapping[str, Any]) -> None:
        if not isinstance(data.get("column"), str) or sum(op in data for op in RULE_OPS) != 1:
            raise refuse_value(f"needs a column and exactly one of {', '.join(RULE_OPS)}")

    @property
    def op(self) -> str:
        given = {type(self).model_fields[f].alias or f for f in self.model_fields_set}
        return next(op for op in RULE_OPS if op in given)

    @property
    def value(self) -> Any:
        return getattr(self, "in_" if self.op == "in" else self.op)


class PersonalTable(CueTable):
    """``[[personal]]``: a signal-driven cue, added after the tier's own."""

    tiers: Any = None
    when: PersonalWhen = Field(None, validate_default=True)

    @field_validator("text")
    @classmethod
    def _template(cls, value: str) -> str:
        # The text is filled with the customer's signals: a broken {field} would fail there.
        try:
            list(string.Formatter().parse(value))
        except ValueError as exc:
            raise refuse_value(
                f"{value!r} is not a valid template ({exc}); name a signal as "
                "{column} and write {{ or }} for a brace"
            ) from None
        return value

    @field_validator("tiers")
    @classmethod
    def _known_tiers(cls, value: Any, info: ValidationInfo) -> Any:
        # A playbook may describe more tiers than one model uses, so names are checked
        # against the playbook's own [tiers] tables rather than the spec's.
        declared = (info.context or {}).get("declared", ())
        if value is not None and (
            not isinstance(value, list) or any(x not in declared for x in value)
        ):
            raise refuse_value(f"must list tiers defined under [tiers], got {value!r}")
        return value


class DisplayTable(Table):
    """``[display]``: settings of the staff display."""

    source_chips: Annotated[bool, phrased(lambda v: f"must be true or false, got {v!r}")] = False


class PlaybookFile(Table):
    """A whole playbook; ``tiers`` holds the tables of the spec's tiers only."""

    max_cues: Annotated[
        int, Field(ge=1, le=5), phrased(lambda v: f"must be a whole number from 1 to 5, got {v!r}")
    ] = 3
    holdout_fraction: Annotated[
        float,
        Field(ge=0.0, lt=0.5),
        phrased(lambda v: f"must be a number from 0 up to 0.5, got {v!r}"),
    ] = 0.05
    perks: dict[str, PerkTable] = Field(default_factory=dict)
    tiers: dict[str, TierTable] = Field(default_factory=dict, validate_default=True)
    personal: Annotated[
        list[PersonalTable], phrased(lambda v: "must be an array of tables", items=False)
    ] = Field(default_factory=list)
    display: DisplayTable = DisplayTable()

    @field_validator("perks", mode="wrap")
    @classmethod
    def _note_perks(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        if isinstance(value, Mapping) and info.context is not None:
            info.context["perks"] = tuple(value)
        return handler(value)

    @field_validator("tiers", mode="wrap")
    @classmethod
    def _spec_tiers(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        """Check the spec's tiers only, in the spec's order; every one needs a table."""
        if not isinstance(value, Mapping):
            return handler(value)
        context = info.context or {}
        context["declared"] = tuple(value)
        wanted: Sequence[str] = context.get("tiers", ())
        missing = [t for t in wanted if t not in value]
        if missing:
            raise refuse(
                f"tier '{missing[0]}' has no [tiers.{missing[0]}] entry; every tier needs at least one cue"
            )
        return handler({t: value[t] for t in wanted})

    @model_validator(mode="after")
    def _across_tables(self) -> PlaybookFile:
        codes: set[str] = set()
        for cue in [c for t in self.tiers.values() for c in t.cues] + list(self.personal):
            if cue.code in codes:
                raise refuse(f"cue code '{cue.code}' is used twice; codes must be unique")
            codes.add(cue.code)
        ranges = sorted((*t.tickets_at(i), name) for i, (name, t) in enumerate(self.tiers.items()))
        for (_, hi, a), (lo, _, b) in itertools.pairwise(ranges):
            if lo <= hi:
                raise refuse(f"ticket ranges of tiers '{a}' and '{b}' overlap")
        return self


def playbook_where(loc: Loc) -> str:
    """A place in a playbook as its messages name it: "[tiers.vip] cue #1", "[perks.x] cost"."""
    if not loc:
        return "the playbook"
    head, *rest = loc
    if head in ("max_cues", "holdout_fraction"):
        return str(head)
    if head == "personal":
        text = "[[personal]]" + (f" #{int(rest[0]) + 1}" if rest else "")
        return text + (" " + ".".join(map(str, rest[1:])) if len(rest) > 1 else "")
    if head in ("perks", "tiers") and rest:
        text = f"[{head}.{rest[0]}]"
        if rest[1:2] == ["cues"] and len(rest) > 2:
            return f"{text} cue #{int(rest[2]) + 1}"
        return text + (" " + ".".join(map(str, rest[1:])) if len(rest) > 1 else "")
    return f"[{head}]" + (" " + ".".join(map(str, rest)) if rest else "")


_WORDING: dict[str, Callable[[str, ErrorDetails], str]] = {
    "model_type": lambda w, e: f"{w} must be a table",
    "dict_type": lambda w, e: f"{w} must be a table",
    "*": lambda w, e: f"{w}: {e['msg']}",
}


def read_playbook(data: Mapping[str, Any], *, tiers: Sequence[str], source: str) -> PlaybookFile:
    """Validate TOML-shaped playbook data for these tiers; raise ``PlaybookError`` naming
    the file, the table and the key."""
    try:
        return PlaybookFile.model_validate(data, context={"tiers": tuple(tiers)})
    except ValidationError as exc:
        message = refusal(exc, where=playbook_where, wording=_WORDING)
        raise PlaybookError(f"{source}: {message}") from None
