"""Model building by name and strict checkpoint loading."""

from __future__ import annotations

import pytest

from ego360.core.errors import ConfigError, ModelError


def test_every_named_config_exists_in_the_sam2_package(require_sam2):
    from pathlib import Path

    import sam2

    from ego360.models.sam2.build import CONFIGS

    root = Path(sam2.__file__).parent
    assert len(CONFIGS) == 8
    for name, (cfg, ckpt) in CONFIGS.items():
        assert (root / cfg).is_file(), name
        assert ckpt.endswith(".pt")


def test_unknown_config_and_bad_size_are_config_errors():
    from ego360.models.sam2.build import config_path, size_overrides

    with pytest.raises(ConfigError, match="sam2.1_hiera_t"):
        config_path("sam3_huge")
    with pytest.raises(ConfigError, match="multiple of 32"):
        size_overrides(300)
    assert "++model.memory_attention.layer.cross_attention.feat_sizes=[16,16]" in size_overrides(256)


def test_reduced_size_sets_rope_grid(random_sam2):
    model = random_sam2()
    layer = model.memory_attention.layers[0]
    assert model.image_size == 256
    assert layer.self_attn.freqs_cis.shape[0] == 16 * 16
    assert layer.cross_attn_image.freqs_cis.shape[0] == 16 * 16


def test_checkpoint_round_trip_and_mismatch(tmp_path, random_sam2):
    import torch

    from ego360.models.sam2.build import build_model

    model = random_sam2(size=64)
    good = tmp_path / "good.pt"
    torch.save({"model": model.state_dict()}, good)
    loaded = build_model("sam2.1_hiera_t", good, image_size=64)
    for (k, a), b in zip(model.state_dict().items(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b), k

    wrong = {k: torch.zeros(3, 3) if "mask_decoder" in k else v for k, v in model.state_dict().items()}
    bad = tmp_path / "wrong_shapes.pt"
    torch.save({"model": wrong}, bad)
    with pytest.raises(ModelError) as err:
        build_model("sam2.1_hiera_t", bad, image_size=64)
    msg = str(err.value)
    assert "wrong_shapes.pt" in msg and "sam2.1_hiera_t" in msg and "shape mismatches" in msg
    assert "\n" not in msg

    with pytest.raises(ModelError, match="not found.*sam2.1_hiera_tiny.pt"):
        build_model("sam2.1_hiera_t", tmp_path / "missing.pt", image_size=64)
