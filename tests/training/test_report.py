"""The model report: the figures training keeps for it, and the HTML page built from them
for class, binary and value targets, old versions, fairness, drift and hostile names."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import EXAMPLES, Trained
from tierline.engine.errors import DataError
from tierline.engine.registry import Registry
from tierline.engine.spec import load_spec
from tierline.training.figures import GAINS_POINTS, calibration, gains_curve
from tierline.training.report import build_report, render_report, write_report
from tierline.training.train import train

KINDS = ("class", "binary", "value")
SPECS = {"binary": "binary.toml", "value": "value.toml"}
FAIRNESS = {
    "min_ratio": 0.8,
    "gated_tiers": ["vip"],
    "passed": False,
    "why": "vip: age_band 65+ gets 62% of the best group's rate",
    "columns": [
        {
            "column": "age_band",
            "groups": [{"group": "18-25", "rows": 120}, {"group": "65+", "rows": 80}],
            "tiers": [
                {
                    "tier": "vip",
                    "gated": True,
                    "rates": {"18-25": 0.05, "65+": 0.031},
                    "best_group": "18-25",
                    "lowest_group": "65+",
                    "lowest_ratio": 0.62,
                },
                {
                    "tier": "standard",
                    "gated": False,
                    "rates": {"18-25": 0.8, "65+": 0.9},
                    "best_group": "65+",
                    "lowest_group": "18-25",
                    "lowest_ratio": 0.89,
                },
            ],
        }
    ],
    "override": {"reason": "seasonal campaign, reviewed by the owner", "at": "2026-11-02"},
}


@pytest.fixture(scope="module")
def registries(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Registry]:
    """A registry per target kind: the session's class model, and binary and value models
    trained here on the same demo customers."""
    out = {"class": Registry(trained.models)}
    for kind, spec_file in SPECS.items():
        models = tmp_path_factory.mktemp(f"report_{kind}")
        spec = load_spec(EXAMPLES / spec_file)
        train(data_path=trained.data, spec=spec, models=models, promote="always", threads=1)
        out[kind] = Registry(models)
    return out


def champion_metadata(registry: Registry) -> dict[str, Any]:
    name = registry.champion()
    assert name is not None
    return registry.metadata(name)


class Tags(HTMLParser):
    """Every start tag of a document, with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(html)
    return parser.tags


def section_ids(html: str) -> list[str]:
    return [str(a["id"]) for t, a in tags(html) if t == "section"]


@pytest.mark.parametrize("kind", KINDS)
def test_training_keeps_the_report_figures(registries: dict[str, Registry], kind: str) -> None:
    """A new version's metadata holds the held-out tier counts, a gains curve for the
    model and each baseline, the kind's fit figures and the top input columns by gain."""
    meta = champion_metadata(registries[kind])
    figures = meta["report"]
    test_rows = meta["split"]["test"]
    assert sum(figures["tier_counts"].values()) == test_rows
    assert set(figures["tier_counts"]) == set(meta["spec"]["tiers"]["names"])
    gains = figures["gains"]
    assert set(gains["curves"]) == {"model", *meta["baselines"]}
    assert len(gains["x"]) == GAINS_POINTS + 1
    for curve in gains["curves"].values():
        assert curve[0] == 0.0 and curve[-1] == pytest.approx(1.0)
        assert all(b >= a for a, b in pairwise(curve))
    # A model worth keeping finds more in its top fifth than a constant ranking does.
    top_fifth = gains["x"].index(0.2)
    assert gains["curves"]["model"][top_fifth] > 0.3
    if kind == "class":
        assert sum(figures["actual_tier_counts"].values()) == test_rows
        assert "calibration" not in figures
    else:
        bins = figures["calibration"]
        assert len(bins) == 10 and sum(b["rows"] for b in bins) == test_rows
        assert [b["predicted"] for b in bins] == sorted(b["predicted"] for b in bins)
    features = [f["feature"] for f in figures["importance"]]
    spec = meta["spec"]["features"]
    assert 0 < len(features) <= 20
    assert set(features) <= {*spec["categorical"], *spec["numeric"], *spec["boolean"]}
    assert figures["importance"][0]["share"] >= figures["importance"][-1]["share"]


def test_gains_curve_shares_ties_evenly() -> None:
    """A constant score gives the diagonal, a perfect ranking front-loads everything, and
    nothing to capture gives no curve."""
    captured = np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    flat = gains_curve(np.ones(10), captured, points=10)
    assert flat == pytest.approx([i / 10 for i in range(11)])
    perfect = gains_curve(captured, captured, points=10)
    assert perfect is not None and perfect[2] == 1.0 and perfect[1] == 0.5
    assert gains_curve(np.arange(10.0), np.zeros(10)) is None


def test_calibration_bins_follow_the_score() -> None:
    """Calibration splits customers into score deciles and averages both sides in each."""
    score = np.linspace(0.0, 0.9, 100)
    bins = calibration(score, (score > 0.45).astype(float))
    assert [b["rows"] for b in bins] == [10] * 10
    assert bins[0]["observed"] == 0.0 and bins[-1]["observed"] == 1.0
    assert bins[0]["predicted"] < bins[-1]["predicted"]


@pytest.mark.parametrize("kind", KINDS)
def test_report_has_every_section_for_its_kind(
    registries: dict[str, Registry], kind: str, tmp_path: Path
) -> None:
    """The champion's report holds the header, metrics, gate, the model search (its winner
    marked), tier mix, gains, the kind's fit section, importance, fairness and drift, with a
    chart in each charted section."""
    version, html = build_report(models=registries[kind].root)
    fit = "confusion" if kind == "class" else "calibration"
    assert section_ids(html) == [
        "metrics",
        "gate",
        "selection",
        "tier-mix",
        "gains",
        fit,
        "calibration-fit",
        "importance",
        "fairness",
        "drift",
    ]
    charts = re.findall(r'<section id="([\w-]+)">(?:(?!</section>).)*?<svg class="chart"', html)
    assert charts == ["tier-mix", "gains", fit, "importance"]
    assert f"Model report: {version}" in html and ">champion<" in html
    assert "Needs a retrain" not in html
    assert "random order" in html  # the gains chart's chance line
    winner = registries[kind].metadata(version)["selection"]["winner"]
    assert f"<strong>{winner}</strong> ✓" in html and html.count("✓") == 1
    write_report(html, tmp_path / "report.html")
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == html


@pytest.mark.parametrize("kind", KINDS)
def test_report_fetches_nothing(registries: dict[str, Registry], kind: str) -> None:
    """No element of the report loads anything: no script, no src or href, no CSS url or
    import, and a Content-Security-Policy that forbids every fetch."""
    _, html = build_report(models=registries[kind].root)
    found = tags(html)
    assert not [t for t, _ in found if t in {"script", "link", "img", "iframe", "object"}]
    assert not [a for _, a in found if {"src", "href", "xlink:href"} & set(a)]
    assert "url(" not in html and "@import" not in html
    assert not re.search(r"https?://", html)
    csp = [a for t, a in found if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and str(csp[0]["content"]).startswith("default-src 'none'")


def test_hostile_names_are_escaped(registries: dict[str, Registry]) -> None:
    """Markup in a tier, a column, a fairness group or a drift signal shows as text: the
    page gains no element from it."""
    meta = json.loads(json.dumps(champion_metadata(registries["binary"])))
    evil = '<script>alert("tier")</script>'
    column = '"><img src=x onerror=alert(1)>'
    old = meta["spec"]["tiers"]["names"][0]
    meta["spec"]["tiers"]["names"][0] = evil
    meta["report"]["tier_counts"][evil] = meta["report"]["tier_counts"].pop(old)
    meta["report"]["importance"][0]["feature"] = column
    meta["baselines"][column] = meta["baselines"].pop("logistic")
    meta["report"]["gains"]["curves"][column] = meta["report"]["gains"]["curves"].pop("logistic")
    fairness = json.loads(json.dumps(FAIRNESS))
    fairness["columns"][0]["column"] = column
    fairness["columns"][0]["groups"][0]["group"] = evil
    drift = [{"signal": column, "psi": 0.3, "band": "act", "rows": 500}]
    html = render_report(
        version="v0001", metadata={**meta, "fairness": fairness}, champion=False, drift=drift
    )
    kinds = {t for t, _ in tags(html)}
    assert "script" not in kinds and "img" not in kinds
    assert evil not in html and column not in html
    assert "&lt;script&gt;alert(&quot;tier&quot;)&lt;/script&gt;" in html
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in html


def test_old_metadata_renders_and_names_what_needs_a_retrain(
    registries: dict[str, Registry],
) -> None:
    """A version from before the report's figures still shows its metrics, gate and tier
    mix, and names the gains chart, calibration and importance as needing a retrain."""
    meta = champion_metadata(registries["binary"])
    del meta["report"]
    html = render_report(version="v0001", metadata=meta, champion=True)
    assert section_ids(html)[:4] == ["metrics", "gate", "selection", "tier-mix"]
    assert "Needs a retrain to show: gains chart, calibration, feature importance" in html
    assert html.count('<svg class="chart"') == 1  # the tier mix, from the metrics' shares
    bare = render_report(version="v0001", metadata={}, champion=False)  # nothing at all
    assert "Model report: v0001" in bare and "No gate decision recorded" in bare


def test_fairness_table_flags_the_gated_tier_below_the_floor(
    registries: dict[str, Registry],
) -> None:
    """The fairness section shows each group's rate per tier, marks a gated tier whose
    lowest ratio is under the floor, and shows the override; without figures it says so."""
    meta = champion_metadata(registries["class"])
    html = render_report(version="v0001", metadata={**meta, "fairness": FAIRNESS}, champion=True)
    fairness = html[html.index('<section id="fairness">') : html.index('<section id="drift">')]
    assert "failed" in fairness and "age_band" in fairness
    assert "18-25" in fairness and "65+" in fairness and "3.1%" in fairness
    assert fairness.count("below the floor") == 1  # vip only: standard is not gated
    assert "seasonal campaign, reviewed by the owner" in fairness
    assert "fairness" in meta  # training records the check; a version from before did not
    older = {k: v for k, v in meta.items() if k != "fairness"}
    plain = render_report(version="v0001", metadata=older, champion=True)
    assert "records no fairness check" in plain


def test_drift_rows_are_banded_and_a_message_stands_in(registries: dict[str, Registry]) -> None:
    """Drift rows show their PSI and band (coloured by class); a message or None says why
    there are no figures."""
    meta = champion_metadata(registries["value"])
    rows = [
        {"signal": "spend_365d", "psi": 0.31, "band": "act", "rows": 900},
        {"signal": "campaign", "psi": 0.12, "band": "watch", "rows": 900},
        {"signal": "party_size", "psi": None, "band": "stable", "rows": 12},
    ]
    html = render_report(version="v0001", metadata=meta, champion=True, drift=rows)
    drift = html[html.index('<section id="drift">') :]
    assert [a.get("class") for t, a in tags(drift) if t == "span"] == [
        "band-act",
        "band-watch",
        "band-stable",
    ]
    assert "0.310" in drift and "spend_365d" in drift
    said = render_report(
        version="v0001", metadata=meta, champion=True, drift="not enough decisions yet"
    )
    assert "No drift figures: not enough decisions yet." in said
    assert "No drift figures:" in render_report(version="v0001", metadata=meta, champion=True)


def test_write_report_refuses_a_folder_and_replaces_a_file(tmp_path: Path) -> None:
    """Writing over a report replaces it whole; a folder as the target is refused."""
    target = tmp_path / "report.html"
    target.write_text("old", encoding="utf-8")
    write_report("<!DOCTYPE html>new", target)
    assert target.read_text(encoding="utf-8") == "<!DOCTYPE html>new"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary left
    with pytest.raises(DataError, match="is a folder"):
        write_report("x", tmp_path)
