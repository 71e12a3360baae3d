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


def test_table_adds_one_normalised_mse_column_per_split():
    metrics = {"mse_norm": 0.03, "mse_norm_train": 0.01, "mse_norm_val": 0.02}
    lines = comparison_table([CompareEntry(name="gan", metrics=metrics)]).splitlines()
    assert lines[0].endswith(
        "| MSE [0,1] ↓ | MSE [0,1] train ↓ | MSE [0,1] val ↓ | params (M) | train (s) |"
    )
    assert lines[2].endswith("| 0.0300 | 0.0100 | 0.0200 | 0.00 | – |")


@pytest.mark.slow
def test_compare_trains_configs_and_scores_checkpoints(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["mdk"])
    monkeypatch.chdir(tmp_path)
    # Report 2's stacks: its base before each model file, the synthetic twin after.
    configs = [
        str(CONFIGS / "report2" / "autoencoder.yaml"),
        str(CONFIGS / "report2" / "unet.yaml"),
    ]
    out = tmp_path / "cmp"
    args = ["compare", *configs, "--base", str(CONFIGS / "report2" / "base.yaml")]
    args += ["--overlay", str(CONFIGS / "synthetic" / "nyu_twin.yaml")]
    assert main([*args, "--set", "trainer.max_steps=2", "--out", str(out)]) == 0
    rows = json.loads((out / "compare.json").read_text())
    assert [row["name"] for row in rows] == ["autoencoder", "unet"]
    for row in rows:
        metrics = row["metrics"]
        # Report 1's figure is the per-image MSE of depth / max depth (10 m for the twins' eval).
        assert metrics["mse_norm"] > 0 and 0 <= metrics["d1"] <= 1
        assert Path(row["checkpoint"]).is_file() and row["parameters"] > 0
    per_image = (out / rows[0]["name"] / "per_image.csv").read_text().splitlines()
    assert len(per_image) == rows[0]["metrics"]["count"] + 1
    assert "| autoencoder |" in (out / "compare.md").read_text()

    # A checkpoint is evaluated as is, on the root it was trained on.
    again = tmp_path / "again"
    checkpoint = rows[1]["checkpoint"]
    assert main(["compare", checkpoint, "--mse-splits", "train,test", "--out", str(again)]) == 0
    rerun = json.loads((again / "compare.json").read_text())[0]["metrics"]
    assert rerun["abs_rel"] == pytest.approx(rows[1]["metrics"]["abs_rel"], rel=1e-6)
    # Report 1's figure on other splits: the training split is scored too (other frames).
    assert rerun["mse_norm_test"] == rerun["mse_norm"]
    assert rerun["mse_norm_train"] > 0 and rerun["mse_norm_train"] != rerun["mse_norm"]
    assert "report3" not in capsys.readouterr().err
