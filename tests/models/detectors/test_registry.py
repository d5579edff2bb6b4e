"""Detector backends by name in the one registry; `none` keeps the motion-only path."""

from __future__ import annotations

import pytest

from ego360.core.config import DetectorConfig, load_config
from ego360.core.errors import ConfigError, ModelError
from ego360.models.registry import DETECTORS, create_detector


def test_names_and_none():
    assert {"none", "blazepose", "onnx-yolox", "onnx-yolo", "onnx-detr"} <= set(DETECTORS)
    assert create_detector(DetectorConfig()) is None
    assert load_config(None, []).detector.backend == "none"


def test_unknown_backend_lists_valid_names_and_bad_values_are_config_errors():
    with pytest.raises(ConfigError, match="blazepose"):
        create_detector(DetectorConfig(backend="yolo9000"))
    with pytest.raises(ConfigError, match="active"):
        load_config(None, ["detector.faces=some"])
    with pytest.raises(ConfigError, match="detector.rate_hz"):
        load_config(None, ["detector.rate_hz=0"])


def test_missing_model_dir_names_the_setup_command(tmp_path):
    with pytest.raises(ModelError, match="scripts/setup.sh"):
        create_detector(DetectorConfig(backend="blazepose", model_dir=str(tmp_path)))
