import json

import pytest

from monodepthkit.demo import run_demo


@pytest.mark.slow
def test_demo_beats_the_constant_baseline_by_2x(tmp_path):
    """The full `mdk demo` (about 4 minutes on 2 CPU cores): the claim in the README."""
    results = run_demo(out=tmp_path / "demo", data_root=tmp_path / "world")
    for metric in ("abs_rel", "rmse"):
        assert results["constant_median"][metric] >= 2 * results["unet"][metric], metric
    written = json.loads((tmp_path / "demo" / "metrics.json").read_text())
    assert written["unet"]["count"] == written["constant_median"]["count"] > 0
    assert (tmp_path / "demo" / "figure.png").stat().st_size > 10_000
    assert (tmp_path / "demo" / "model.ckpt").is_file()
    assert (tmp_path / "demo" / "unet" / "per_image.csv").is_file()
