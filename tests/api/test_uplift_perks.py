"""Perks given by an uplift model over HTTP: the served decision offers the perk where it
pays and says why in its reasons, with or without explain."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from tests.api.conftest import site_key
from tests.uplift_perk_data import LAPSING, REGULAR, Gated
from tierline.api.app import create_app
from tierline.api.settings import Settings


def test_the_served_decision_offers_the_perk_where_it_pays(
    gated: Gated,
    tmp_path: Path,
) -> None:
    """Through POST /v1/decisions (explain=false), a lapsing customer gets the coffee with
    the reason giving its net value and a regular gets none with the reason saying so."""
    models = tmp_path / "models"
    shutil.copytree(gated.models, models)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", models=str(models))
    with TestClient(create_app(settings)) as client:
        pos = site_key(client, "pos")
        answers = {}
        for name, signals in (("lapsing", LAPSING), ("regular", REGULAR)):
            r = client.post(
                "/v1/decisions?explain=false",
                json={"customer_id": f"{name}-1", "signals": signals},
                headers=pos,
            )
            assert r.status_code == 200, r.text
            answers[name] = r.json()
    for name, offered in (("lapsing", True), ("regular", False)):
        answer = answers[name]
        assert answer["model_version"] == gated.model.version and not answer["holdout"]
        assert any(c["perk"] == "coffee" for c in answer["cues"]) is offered
        (said,) = [r for r in answer["reasons"] if r["feature"] == "perk:coffee"]
        assert said["text"].startswith("coffee offered" if offered else "coffee not offered")
