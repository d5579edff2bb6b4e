"""The `transformers` backend through the real generate path of a tiny, trained Qwen2.5-VL.

The model is built and saved offline, loaded back by our backend from the directory, then trained
for a few seconds on exactly the inputs our backend sends until it names the colour of the entity
in the red box. A held-out rendered scene must then come back with that colour in the caption's
appearance: pixels reach the model, and the model's answer reaches the Caption.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("torchvision")

from ego360.core.config import CaptionerConfig  # noqa: E402
from ego360.core.errors import ModelError  # noqa: E402
from ego360.core.packets import (
    CaptionRequest,  # noqa: E402
    Track,  # noqa: E402
)
from ego360.core.projection import mask_box_wrapped  # noqa: E402
from ego360.models.registry import create_captioner  # noqa: E402
from ego360.models.vlm.prompt import SYSTEM_PROMPT, build_caption_prompt  # noqa: E402
from ego360.models.vlm.views import context_view, highlight  # noqa: E402
from tests._vlm_utils import COLOURS, answer_json, build_tiny_qwen25vl, scene_equirect  # noqa: E402

CROP = 64


def _request(colour: str, yaw: float, seed: int) -> CaptionRequest:
    """A rendered scene → what the entity stage hands the captioner (follow crop in red box + wide view)."""
    img, mask = scene_equirect(colour, yaw, seed=seed)
    h, w = mask.shape
    cx = int((yaw / 360.0 + 0.5) * w)
    cols = np.arange(cx - CROP // 2, cx + CROP // 2) % w
    rows = slice(h // 2 - CROP // 2, h // 2 + CROP // 2)
    view, view_mask = img[rows][:, cols], mask[rows][:, cols]
    track = Track(entity_id=1, frame_index=seed, role="perpetrator", mask=mask, box=mask_box_wrapped(mask),
                  bearing_deg=yaw, pitch_deg=0.0, kind="person")
    return CaptionRequest(entity_id=1, frame_index=seed, role="perpetrator", kind="person", bearing_deg=yaw,
                          clock=round(yaw / 30) % 12 or 12, distance_hint="", motion_hint="", appearance_hint="",
                          views=(highlight(view, view_mask),), context=context_view(img, [track], max_width=256))


def _cfg(model_dir, **kw) -> CaptionerConfig:
    return CaptionerConfig(backend="transformers", model_dir=str(model_dir), max_frames=2, max_pixels=56 * 84,
                           max_new_tokens=48, deadline_s=60.0, **kw)


def _train(backend, examples, max_epochs: int = 45, lr: float = 3e-3, log=None) -> int:
    """Teacher-forced training of the answer tokens; stops once every example's loss is tiny.

    Bounded by epochs, not seconds, so the outcome does not depend on how busy the machine is.
    """
    import torch

    model, tok = backend.model, backend.processor.tokenizer
    batches = []
    for req, colour in examples:
        inputs, _ = backend.prepare(build_caption_prompt(req, backend.max_frames))
        ans = torch.tensor([tok(answer_json(colour) + "<|im_end|>")["input_ids"]])
        feed = dict(inputs)
        n = inputs["input_ids"].shape[1]
        feed["input_ids"] = torch.cat([inputs["input_ids"], ans], 1)
        feed["attention_mask"] = torch.ones_like(feed["input_ids"])
        if "mm_token_type_ids" in feed:
            feed["mm_token_type_ids"] = torch.cat([inputs["mm_token_type_ids"], torch.zeros_like(ans)], 1)
        labels = feed["input_ids"].clone()
        labels[:, :n] = -100
        batches.append((feed, labels))
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    steps = 0
    for _ in range(max_epochs):
        worst = 0.0
        for i in torch.randperm(len(batches)).tolist():
            feed, labels = batches[i]
            loss = model(**feed, labels=labels).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            worst, steps = max(worst, loss.item()), steps + 1
        if log is not None:
            log(steps, worst)
        if worst < 0.02:
            break
    model.eval()
    return steps


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import torch

    torch.manual_seed(0)
    prompts = [build_caption_prompt(_request("red", 0.0, 0), 2)]
    corpus = [answer_json(c) for c in COLOURS] * 30 + [SYSTEM_PROMPT] * 10
    corpus += [p for p in prompts[0].parts if isinstance(p, str)] * 10
    model_dir = build_tiny_qwen25vl(tmp_path_factory.mktemp("tiny_qwen25vl"), corpus)
    backend = create_captioner(_cfg(model_dir))
    rng = np.random.default_rng(1)
    examples = [(_request(c, float(rng.uniform(-170, 170)), 100 + 10 * k + j), c)
                for k in range(6) for j, c in enumerate(COLOURS)]
    steps = _train(backend, examples)
    print(f"tiny Qwen2.5-VL: {sum(p.numel() for p in backend.model.parameters())} parameters, {steps} steps")
    return backend


def test_loaded_offline_from_directory(trained):
    import os

    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    assert type(trained.model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert sum(p.numel() for p in trained.model.parameters()) < 1_000_000


@pytest.mark.parametrize("colour, yaw", [("red", 60.0), ("green", -120.0), ("blue", 175.0)])
def test_caption_names_the_colour_of_the_boxed_entity(trained, colour, yaw):
    req = _request(colour, yaw, seed=999)
    cap = trained.caption(req)
    assert cap.source == "vlm" and cap.entity_id == 1
    assert cap.appearance.split()[0] == colour
    assert cap.speech.endswith(f"at {req.clock} o'clock")


def test_missing_model_directory_is_reported_as_such(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        create_captioner(_cfg(tmp_path / "nope"))
    with pytest.raises(ModelError, match="no config.json"):
        create_captioner(_cfg(tmp_path))
