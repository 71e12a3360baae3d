"""Report 5's learning proof as the README runs it: `benchmarks/selfsup_curve.py` prints the
three-seed tables, the stereo scaling table and the paper's ablations from the committed results
(benchmarks/results/selfsup_curve_64x192), without training, and the figures are the README's;
the same for issue 16's self-supervised adaptation of Depth Anything V2 (``--configs
foundation``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks/results/selfsup_curve_64x192"
CONFIGS = [
    "mono_separate",
    "mono_posecnn",
    "stereo",
    "mono_stereo",
    "avg_reprojection",
    "no_automask",
    "no_full_res",
    "supervised_unet",
]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """One rendered world for the module (about 25 s each): the script renders it on first use
    and reuses it after."""
    return tmp_path_factory.mktemp("selfsup_curve") / "world"


def _run(world: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(ROOT / "benchmarks/selfsup_curve.py")]
    command += ["--size", "64x192", "--cpu-minutes", "15", "--steps", "100000"]
    command += ["--seeds", "0", "1", "2", "--root", str(world), "--reuse-only"]
    return subprocess.run(
        [*command, *extra], capture_output=True, text=True, timeout=600, cwd=ROOT, check=False
    )


@pytest.mark.slow
def test_readme_command_prints_the_committed_tables(world):
    done = _run(world, "--configs", *CONFIGS, "--results", str(RESULTS))
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    readme = (ROOT / "README.md").read_text()
    rows = {
        "mono_separate": "| mono_separate | 1018 | 15.0 | 0.362 ± 0.026 | 0.379 0.383 0.326 |",
        "stereo": "| stereo | 1931 | 15.0 | 0.145 ± 0.002 | 0.142 0.148 0.145 |",
        "no_automask": "| no_automask | 1246 | 15.0 | 3.265 ± 0.300 | 2.920 3.223 3.653 |",
    }
    for name, row in rows.items():
        assert row in out, name
        # The README quotes the same figures (its table drops the CPU-minutes column).
        assert row.replace(" 15.0 |", "") in readme, name
    assert "| stereo | 0.145 ± 0.002 | 0.136 ± 0.001 | 1.023 ± 0.016 |" in out
    ablations = (
        "average reprojection instead of per-pixel minimum | 0.360 ± 0.043 | -0.002",
        "no auto-masking | 3.265 ± 0.300 | +2.903",
        "no full-resolution multi-scale | 0.428 ± 0.051 | +0.066",
    )
    for row in ablations:
        assert row in out
    assert out.count("| worse (higher AbsRel) | yes |") == 2
    assert out.count("| worse (higher AbsRel) | within noise |") == 1
    assert "| constant depth | | | 0.544 |" in out  # evaluated now, on the rendered world


def test_reuse_only_refuses_to_train_a_missing_run(world, tmp_path):
    (tmp_path / "results").mkdir()
    done = _run(world, "--configs", "stereo", "--results", str(tmp_path / "results"))
    assert done.returncode != 0
    assert "stereo_seed0.json is missing and --reuse-only forbids training it" in done.stderr


@pytest.mark.slow
def test_foundation_adaptation_rows_are_the_readme_s(world):
    """Issue 16's adaptation proof: Depth Anything V2 small, self-supervised from random
    weights, lowers the median-scaled AbsRel below the untrained network's and the photometric
    loss, in every seed; the README quotes the printed rows."""
    done = _run(world, "--configs", "foundation", "--results", str(RESULTS))
    assert done.returncode == 0, done.stderr[-2000:]
    readme = (ROOT / "README.md").read_text()
    header = "| config | test AbsRel, untrained | test AbsRel, trained | training loss, first 10 "
    table = done.stdout[done.stdout.index(header) :].split("\n\n")[0].splitlines()[2:]
    assert [row.split(" | ")[0] for row in table] == ["| dav2_stereo", "| dav2_mono"]
    for row in table:
        assert row in readme, row
        untrained, trained, loss_first, loss_last = (
            float(cell.split(" ± ")[0]) for cell in row.strip("| ").split(" | ")[1:]
        )
        assert trained < 0.8 * untrained and loss_last < 0.8 * loss_first, row
    for config in ("dav2_stereo", "dav2_mono"):
        for seed in (0, 1, 2):
            run = json.loads((RESULTS / f"{config}_seed{seed}.json").read_text())["result"]
            assert run["test"]["abs_rel"] < run["untrained"], (config, seed)
