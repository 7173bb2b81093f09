"""`tierline keys pair` prints a pairing code a tablet can spend once on a staff key."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.command import assert_refused, run
from tierline.engine.errors import Gone
from tierline.engine.store import Store

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser


def test_keys_pair_prints_a_code_that_signs_a_tablet_in_once(tmp_path: Path) -> None:
    """The printed code lives the minutes asked for, redeems once for a staff key of the
    site, and the issue is audited as the CLI's user."""
    env = {"TIERLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    proc = run("keys", "pair", "--site", "lyon", "--minutes", "5", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    issued = json.loads(proc.stdout)
    assert issued["site"] == "lyon" and len(issued["code"]) == 9
    left = datetime.fromisoformat(issued["expires_at"]) - datetime.now(UTC)
    assert timedelta(minutes=4) < left <= timedelta(minutes=5)
    plain = run("keys", "pair", "--site", "lyon", env=env)
    assert plain.returncode == 0, plain.stderr
    assert len(plain.stdout.strip()) == 9 and "works once" in plain.stderr
    with Store.open(env["TIERLINE_DATABASE_URL"]) as store:
        key, record = store.redeem_pairing(issued["code"])
        assert (record["role"], record["site"]) == ("staff", "lyon")
        assert store.authenticate(key) == record
        with pytest.raises(Gone):
            store.redeem_pairing(issued["code"])
        issues = [e for e in store.audit_log() if e["action"] == "pairing.issue"]
        assert len(issues) == 2 and all(e["actor"].startswith("cli") for e in issues)


def test_keys_pair_refuses_a_lifetime_outside_an_hour(tmp_path: Path) -> None:
    """--minutes 0 or 61 is refused with exit code 2 and issues nothing."""
    env = {"TIERLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    for minutes in ("0", "61"):
        assert_refused(
            run("keys", "pair", "--site", "lyon", "--minutes", minutes, env=env), "--minutes"
        )
    assert not (tmp_path / "store.db").exists()
