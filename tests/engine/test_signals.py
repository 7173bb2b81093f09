"""engine.signals and the decisions that use it: the request's signal names that nothing
uses are listed in each decision (``ignored_signals``), or refused when the spec says so."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import VIP, Trained, champion_with_features
from tierline.engine.decisions import Fallback, check_in, decide, decide_many
from tierline.engine.errors import UnknownSignals
from tierline.engine.model import TierModel
from tierline.engine.playbook import Playbook
from tierline.engine.registry import Registry
from tierline.engine.signals import SOURCE_SIGNALS, ignored_signals, known_signals
from tierline.engine.spec import parse_spec
from tierline.engine.store import Store

MISSPELT = {**VIP, "visits_09d": 12, "Car_Brand": "Porsche"}

_PLAYBOOK = """
[tiers.vip]
cues = [{ code = "seat", text = "Seat fast" }]
[tiers.standard]
cues = [{ code = "greet", text = "Greet" }]
[[personal]]
code = "dog"
text = "A bowl of water for {dog_name}"
when = { column = "has_dog", equals = true }
"""


@pytest.fixture
def stored(url: str) -> Iterator[Callable[[], list[Any]]]:
    """What the database holds (decisions, visits, perk stock and use), read outside the store."""
    engine = sa.create_engine(url)
    queries = (
        "SELECT COUNT(*) FROM decisions",
        "SELECT COUNT(*) FROM visits",
        "SELECT name, stock FROM perks ORDER BY name",
        "SELECT perk, issued, spent FROM perk_usage ORDER BY perk",
    )

    def read() -> list[Any]:
        with engine.connect() as conn:
            return [conn.exec_driver_sql(q).all() for q in queries]

    yield read
    engine.dispose()


@pytest.fixture(scope="module")
def model(trained: Trained) -> TierModel:
    return Registry(trained.models).load()


@pytest.fixture
def refusing(trained: Trained, tmp_path: Path) -> TierModel:
    """The demo model written again with ``[features] unknown_signals = "refuse"``."""
    models = tmp_path / "models"
    shutil.copytree(trained.models, models)
    champion_with_features(models, unknown_signals="refuse")
    return Registry(models).load()


def _decide(store: Store, model: TierModel | None, **kwargs: Any) -> dict[str, Any]:
    playbook = model.playbook if model else Playbook.default(tiers=["vip", "standard", "student"])
    store.sync_perks(playbook.perks)
    return decide(
        store=store, model=model, fallback=Fallback("standard", playbook), site="s", **kwargs
    )


def test_every_name_anything_uses_is_known() -> None:
    """Model inputs, hard-rule columns, declared drop/protected/id/time/target columns,
    personal cues' columns and text fields, source signals and party_size are known;
    nothing else is."""
    spec = parse_spec(
        {
            "data": {"id": "cid", "time": "joined"},
            "features": {"numeric": ["visits"], "drop": ["leak"], "protected": ["age"]},
            "target": {"kind": "class", "column": "label"},
            "tiers": {
                "names": ["vip", "standard"],
                "default": "standard",
                "rules": [{"tier": "vip", "when": {"column": "is_owner", "equals": True}}],
            },
        }
    )
    playbook = Playbook.from_text(_PLAYBOOK, tiers=spec.tiers, source="test")
    known = known_signals(spec=spec, playbook=playbook)
    expected = {"cid", "joined", "visits", "leak", "age", "label", "is_owner", "has_dog"}
    assert known == expected | {"dog_name", *SOURCE_SIGNALS, "party_size"}


def test_ignored_signals_are_the_unknown_names_sorted() -> None:
    """Only names outside the known set are listed, sorted; no signals list none."""
    known = frozenset({"a", "b"})
    assert ignored_signals({"zeta": 1, "a": 2, "Beta": None, "b": 0}, known) == ["Beta", "zeta"]
    assert ignored_signals({"a": 1}, known) == []
    assert ignored_signals(None, known) == []


def test_a_decision_lists_the_signals_its_request_sent_for_nothing(
    model: TierModel, store: Store
) -> None:
    """A misspelt name is listed in the answer; the stored profile's own names are not
    (the request did not send them), and a request of known names lists none."""
    store.upsert_customer("c-1", {"visits_90d": 3, "crm_only_field": "x"}, scope="")
    d = _decide(store, model, customer_id="c-1", signals=MISSPELT)
    assert d["ignored_signals"] == ["Car_Brand", "visits_09d"]
    assert d["degraded"] is False
    assert _decide(store, model, signals=VIP)["ignored_signals"] == []
    assert _decide(store, model, customer_id="c-1")["ignored_signals"] == []


def test_the_fallback_reports_no_ignored_signals(store: Store) -> None:
    """Without a model nothing can tell a misspelt name from a feature: none are listed,
    and the answer is degraded."""
    d = _decide(store, None, signals=MISSPELT)
    assert d["degraded"] is True and d["ignored_signals"] == []


def test_check_in_lists_ignored_signals_and_knows_party_size(
    model: TierModel, store: Store
) -> None:
    """A check-in's decision lists the misspelt names; party_size and source signals are
    not among them."""
    store.sync_perks(model.playbook.perks)
    signals = {"party_size": 3, "utm_source": "mail", "referer": "x", "campaign": "spring_menu"}
    _, decision = check_in(
        store=store,
        model=model,
        fallback=Fallback("standard", model.playbook),
        site="s",
        signals=signals,
        party_size=2,
    )
    assert decision["ignored_signals"] == ["referer"]


def test_a_refusing_spec_refuses_unknown_signals_and_stores_nothing(
    refusing: TierModel, store: Store, stored: Callable[[], list[Any]]
) -> None:
    """Under ``unknown_signals = "refuse"`` a misspelt name is an UnknownSignals error that
    names it; no decision, visit or perk is stored; known names still decide."""
    assert refusing.spec.unknown_signals == "refuse"
    store.sync_perks(refusing.playbook.perks)
    before = stored()
    with pytest.raises(UnknownSignals, match="'Car_Brand', 'visits_09d'") as refused:
        _decide(store, refusing, signals=MISSPELT)
    assert refused.value.details == {"signals": ["Car_Brand", "visits_09d"]}
    with pytest.raises(UnknownSignals):
        check_in(
            store=store,
            model=refusing,
            fallback=Fallback("standard", refusing.playbook),
            site="s",
            signals=MISSPELT,
        )
    assert stored() == before
    assert _decide(store, refusing, signals=VIP)["ignored_signals"] == []


def test_a_refused_batch_names_the_items_and_stores_none_of_them(
    refusing: TierModel, store: Store, stored: Callable[[], list[Any]]
) -> None:
    """One bad item refuses the whole batch before anything is scored, and the error says
    which items sent which names."""
    store.sync_perks(refusing.playbook.perks)
    before = stored()
    with pytest.raises(UnknownSignals, match="items 1, 2 send") as refused:
        decide_many(
            store=store,
            model=refusing,
            fallback=Fallback("standard", refusing.playbook),
            site="s",
            requests=[(None, VIP), (None, {"vip": True}), (None, {**VIP, "zz": 1})],
        )
    assert refused.value.details == {
        "signals": ["vip", "zz"],
        "items": [{"index": 1, "signals": ["vip"]}, {"index": 2, "signals": ["zz"]}],
    }
    assert stored() == before
