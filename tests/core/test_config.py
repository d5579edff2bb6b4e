"""Typed config: defaults, TOML, --set overrides, and one-line rejections naming key and choices."""

from __future__ import annotations

import pytest

from ego360.core.config import Config, load_config, parse_overrides
from ego360.core.errors import ConfigError
from ego360.tools.cli import main


def test_defaults_and_overrides(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[runner]\nprocess_every = 2\n[tracker]\nbackend = "sam2-torch"\n')
    cfg = load_config(f, ["tracker.image_size=256", "audio.sink=file", "runner.realtime=true"])
    assert isinstance(cfg, Config)
    assert cfg.runner.process_every == 2 and cfg.runner.realtime is True
    assert cfg.tracker.backend == "sam2-torch" and cfg.tracker.image_size == 256
    assert cfg.audio.sink == "file"
    assert load_config().trigger.on_threshold == 0.5


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("trackr.backend=x", "unknown config key 'trackr'"),
        ("tracker.bakend=x", "unknown config key 'tracker.bakend'; valid keys here: backend"),
        ("audio.sink=speaker", "audio.sink: 'speaker' is not valid; choose one of auto, sounddevice, file, none"),
        ("runner.process_every=two", "runner.process_every: 'two' is not an integer"),
        ("runner.realtime=maybe", "not a boolean"),
        ("trigger.on_threshold=1.5", "trigger.on_threshold: 1.5 is out of range"),
        ("tracker=classical", "'tracker' is a section"),
        ("novalue", "expected key=value"),
    ],
)
def test_bad_values_are_one_line_errors(override, fragment):
    with pytest.raises(ConfigError) as err:
        load_config(None, [override])
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[runner\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_unknown_backend_names_valid_choices():
    from ego360.models.registry import check_backends

    cfg = load_config(None, ["tracker.backend=sam3"])
    with pytest.raises(ConfigError) as err:
        check_backends(cfg.tracker, cfg.captioner)
    assert "valid names: classical, sam2-onnx, sam2-torch, sam2-trt" in str(err.value)


def test_parse_overrides_nests():
    assert parse_overrides(["a.b.c=1", "a.d=x"]) == {"a": {"b": {"c": "1"}, "d": "x"}}


def test_cli_exit_code_2_on_bad_set(tmp_path, capsys):
    code = main(["replay", str(tmp_path / "clip.mp4"), "--out", str(tmp_path / "o"), "--set", "audio.sink=loud"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "audio.sink" in err[0]
    assert not (tmp_path / "o").exists()
