"""Properties of reading a spec: what is read survives the artifact, and anything else is
refused by a SpecError naming the file."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

from tests.strategies import mangled_spec_tables, spec_tables
from tierline.engine.errors import SpecError
from tierline.engine.spec import Spec, parse_spec


@settings(max_examples=150, deadline=None)
@given(spec_tables())
def test_a_spec_written_out_reads_back_equal(data: dict[str, Any]) -> None:
    """A spec read from TOML tables, written out for the artifact and read again, is the same spec."""
    spec = parse_spec(data, source="s.toml")
    again = Spec.from_dict(spec.to_dict())
    assert again == spec
    assert again.to_dict() == spec.to_dict()


@settings(max_examples=300, deadline=None)
@given(mangled_spec_tables())
def test_any_toml_tables_are_read_or_refused_by_name(data: dict[str, Any]) -> None:
    """Whatever a TOML file holds, reading it gives a Spec or a SpecError naming the file,
    never another exception."""
    try:
        spec = parse_spec(data, source="s.toml")
    except SpecError as exc:
        assert str(exc).startswith("s.toml: ")
        assert "Input should" not in str(exc)  # pydantic's own words never reach a user
    else:
        assert Spec.from_dict(spec.to_dict()) == spec
