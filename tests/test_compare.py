import json
import sys
from pathlib import Path

import pytest

from monodepthkit.cli import main
from monodepthkit.compare import CompareEntry, comparison_table

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_table_has_report2_columns():
    entry = CompareEntry(
        name="net", metrics={"d1": 0.5, "abs_rel": 0.25, "mse_norm": 0.01}, parameters=2_000_000
    )
    lines = comparison_table([entry]).splitlines()
    assert lines[0].startswith(
        "| method | δ1 ↑ | δ2 ↑ | δ3 ↑ | rel ↓ | rms ↓ | log10 ↓ | MSE [0,1] ↓"
    )
    assert lines[2] == "| net | 0.5000 | – | – | 0.2500 | – | – | 0.0100 | 2.00 | – |"


@pytest.mark.slow
def test_compare_trains_configs_and_scores_checkpoints(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["mdk"])
    monkeypatch.chdir(tmp_path)
    configs = [
        str(CONFIGS / "report2_autoencoder_nyu.yaml"),
        str(CONFIGS / "report3_unet_silog_nyu.yaml"),
    ]
    out = tmp_path / "cmp"
    args = ["compare", *configs, "--overlay", str(CONFIGS / "synthetic" / "nyu_twin.yaml")]
    assert main([*args, "--set", "trainer.max_steps=2", "--out", str(out)]) == 0
    rows = json.loads((out / "compare.json").read_text())
    assert [row["name"] for row in rows] == ["report2_autoencoder_nyu", "report3_unet_silog_nyu"]
    for row in rows:
        metrics = row["metrics"]
        # Report 1's figure is the per-image MSE of depth / max depth (10 m for the twins' eval).
        assert metrics["mse_norm"] > 0 and 0 <= metrics["d1"] <= 1
        assert Path(row["checkpoint"]).is_file() and row["parameters"] > 0
    per_image = (out / rows[0]["name"] / "per_image.csv").read_text().splitlines()
    assert len(per_image) == rows[0]["metrics"]["count"] + 1
    assert "| report2_autoencoder_nyu |" in (out / "compare.md").read_text()

    # A checkpoint is evaluated as is, on the root it was trained on.
    again = tmp_path / "again"
    assert main(["compare", rows[1]["checkpoint"], "--out", str(again)]) == 0
    rerun = json.loads((again / "compare.json").read_text())[0]["metrics"]
    assert rerun["abs_rel"] == pytest.approx(rows[1]["metrics"]["abs_rel"], rel=1e-6)
    assert "report3" not in capsys.readouterr().err
