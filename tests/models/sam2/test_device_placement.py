"""Every tensor the streaming tracker hands the model is on the model's device, checked without a GPU.

How: the model runs on PyTorch's `meta` device (shapes only, no data), which refuses to mix with CPU
tensors, and every forward method of the model and of each submodule additionally checks its tensor
arguments. A prompt left on the CPU (the old `_prompt_points`) fails here exactly as it did on CUDA.
"""

from __future__ import annotations

import copy
import functools

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _tensors(obj):
    import torch

    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _tensors(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _tensors(v)


@pytest.fixture(scope="module")
def meta_model():
    torch = pytest.importorskip("torch")
    pytest.importorskip("sam2")
    from ego360.models.sam2.build import build_model

    torch.manual_seed(0)
    model = copy.deepcopy(build_model("sam2.1_hiera_t", None, image_size=64)).to("meta")
    seen: list[str] = []
    wrong: list[str] = []

    def check(where, args, kwargs):
        seen.append(where)
        for t in _tensors((args, kwargs)):
            if t.device.type != "meta":
                wrong.append(f"{where}: {tuple(t.shape)} on {t.device}")

    for name in ("track_step", "forward_image", "_encode_new_memory", "_prepare_backbone_features"):
        method = getattr(model, name)

        def wrapped(*args, _m=method, _n=name, **kwargs):
            check(_n, args, kwargs)
            return _m(*args, **kwargs)

        setattr(model, name, functools.wraps(method)(wrapped))
    for name, module in model.named_modules():
        module.register_forward_pre_hook(lambda mod, args, kwargs, _n=name: check(_n or "model", args, kwargs),
                                         with_kwargs=True)
    return model, seen, wrong


def _image(hw, seed=0):
    return (np.random.default_rng(seed).random((*hw, 3)) * 255).astype(np.uint8)


@pytest.mark.parametrize("hw", [(48, 64), (64, 64)])  # resized by PIL first / already at the model size
def test_box_point_and_mask_prompts_reach_the_model_on_its_device(meta_model, hw):
    from ego360.models.sam2.streaming import SAM2StreamTracker

    model, seen, wrong = meta_model
    seen.clear(), wrong.clear()
    tracker = SAM2StreamTracker(model)
    img = _image(hw)
    out = tracker.add_object(0, img, 1, box=(5.0, 5.0, 20.0, 20.0))
    tracker.add_object(0, img, 2, points=np.array([[10.0, 12.0], [30.0, 20.0]]), labels=np.array([1, 0]))
    tracker.add_object(0, img, 2, points=np.array([[11.0, 13.0]]))  # a refining click on the same frame
    tracker.add_object(0, img, 3, mask=np.ones(hw, bool))
    for f in range(1, 4):
        res = tracker.track(_image(hw, f))
    tracker.add_object(3, img, 1, points=np.array([[8.0, 9.0]]))  # a correction on a tracked frame
    res = tracker.track(img)
    assert wrong == [], wrong[:5]
    assert {"track_step", "forward_image", "_encode_new_memory", "sam_prompt_encoder"} <= set(seen)
    assert out.low_res.device.type == "meta" and set(res) == {1, 2, 3}
    assert all(m.low_res.device.type == "meta" for m in res.values())


def test_batched_follow_views_reach_the_model_on_its_device(meta_model):
    from ego360.models.sam2.streaming import SAM2StreamTracker, track_streams

    model, seen, wrong = meta_model
    seen.clear(), wrong.clear()
    a, b = SAM2StreamTracker(model), SAM2StreamTracker(model)
    a.add_object(0, _image((64, 64)), 1, box=(5.0, 5.0, 20.0, 20.0))
    b.add_object(0, _image((64, 64), 1), 2, mask=np.ones((64, 64), bool))
    calls = seen.count("forward_image")
    results = track_streams([a, b], [_image((64, 64), 2), _image((64, 64), 3)], 1)
    assert wrong == [], wrong[:5]
    assert seen.count("forward_image") == calls + 1  # one encoder pass for both views
    assert [list(r) for r in results] == [[1], [2]]


def test_unknown_dtype_is_a_config_error(meta_model):
    from ego360.core.errors import ConfigError
    from ego360.models.sam2.streaming import SAM2StreamTracker

    with pytest.raises(ConfigError, match="tracker.dtype 'fp8'"):
        SAM2StreamTracker(meta_model[0], dtype="fp8")
