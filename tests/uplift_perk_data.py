"""The uplift-gated coffee: a registry whose tier model gives coffee only where the demo
experiment's uplift model says it pays (shared by the engine and API tests of give = "uplift";
the ``gated`` fixture in tests/conftest.py builds it once)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tierline.engine.model import TierModel
from tierline.engine.playbook import DEFAULT_PLAYBOOK
from tierline.engine.registry import Registry
from tierline.engine.spec import load_spec
from tierline.training.demo_uplift import generate_experiment
from tierline.training.train import train
from tierline.training.writing import write_table

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

__all__ = ["COFFEE_CUE", "LAPSING", "REGULAR", "TIERS", "Gated", "build_gated", "playbook_text"]

TIERS = ("vip", "standard", "student")
COFFEE_CUE = '{ code = "coffee_%s", text = "Offer a coffee on the house", perk = "coffee" }'
# The demo experiment's coffee brings back lapsing customers and puts off regulars.
LAPSING = {"visits_90d": 0, "visits_365d": 3, "days_since_last_visit": 120, "avg_ticket": 30.0}
REGULAR = {"visits_90d": 9, "visits_365d": 30, "days_since_last_visit": 3, "avg_ticket": 30.0}


def playbook_text(perk_lines: str) -> str:
    """The default playbook whose coffee has ``perk_lines`` and is a cue of every tier."""
    text = DEFAULT_PLAYBOOK.read_text(encoding="utf-8")
    text = text.replace("[perks.coffee]\n", f"[perks.coffee]\n{perk_lines}\n")
    for tier, first in (("standard", '"serve_in_order"'), ("student", '"student_menu"')):
        cue = COFFEE_CUE % tier
        text = text.replace(f"  {{ code = {first}", f"  {cue},\n  {{ code = {first}")
    return text


@dataclass(frozen=True)
class Gated:
    models: Path
    uplift_version: str
    model: TierModel


def build_gated(demo_csv: Path, work: Path) -> Gated:
    """A registry holding the demo experiment's uplift model (v0001) and a tier model
    (v0002) whose playbook gives coffee only where v0001's coffee arm pays."""
    models = work / "models"
    write_table(generate_experiment(6000, seed=3), work / "experiment.csv")
    first = train(
        data_path=work / "experiment.csv",
        spec=load_spec(EXAMPLES / "uplift.toml"),
        models=models,
        promote="always",
    )
    playbook = work / "playbook.toml"
    playbook.write_text(
        playbook_text(f'give = "uplift"\nuplift_model = "{first.version}"'), encoding="utf-8"
    )
    train(
        data_path=demo_csv,
        spec=load_spec(EXAMPLES / "demo.toml"),
        models=models,
        playbook_path=playbook,
        promote="always",
    )
    return Gated(models=models, uplift_version=first.version, model=Registry(models).load())
