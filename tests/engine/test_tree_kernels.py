"""The compiled loops over the trees (engine.tree_kernels) are compiled once, then loaded
from numba's disk cache by every later process: a server's start, each ``tierline score``
and each test would otherwise compile them again (about 3 s a loop)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.boosters import small_booster

# A new interpreter builds a forest and its contribution tables from the model file and
# uses every loop, then prints what numba's dispatchers did: cache hits and misses.
_PROCESS = """
import json, sys
import numpy as np
from tierline.engine import tree_kernels
from tierline.engine.contributions import compile_contributions
from tierline.engine.forest import compile_forest

text = open(sys.argv[1]).read()
forest = compile_forest(text, n_features=5)
rows = np.zeros((3, 5))
forest.predict(rows[0])
forest.predict_rows(rows)
tables = compile_contributions(text, n_features=5)
tables.compute(rows, np.zeros(3, dtype=np.int64))
loops = ["raw_scores", "raw_scores_many", "fill_tables", "contributions_rows"]
print(json.dumps({
    name: [
        sum(getattr(tree_kernels, name).stats.cache_hits.values()),
        sum(getattr(tree_kernels, name).stats.cache_misses.values()),
    ]
    for name in loops
}))
"""


def _loops_in_new_process(model: Path, cache: Path) -> dict[str, list[int]]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    done = subprocess.run(
        [sys.executable, "-c", _PROCESS, str(model)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, list[int]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_second_process_loads_every_loop_from_the_disk_cache(tmp_path: Path) -> None:
    model = tmp_path / "model.txt"
    model.write_text(small_booster("binary").model_to_string(), encoding="utf-8")
    first = _loops_in_new_process(model, tmp_path / "numba")
    assert all(misses >= 1 for _, misses in first.values()), first  # compiled, then saved
    second = _loops_in_new_process(model, tmp_path / "numba")
    assert all(hits >= 1 and misses == 0 for hits, misses in second.values()), second
