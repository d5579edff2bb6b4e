"""The `transformers` backend through the real generate path of a tiny, trained Qwen2.5-VL.

The model is built and saved offline, loaded back by our backend from the directory, then trained
for a few seconds on exactly the inputs our backend sends until it names the colour of the entity
in the red box. A held-out rendered scene must then come back with that colour in the caption's
appearance: pixels reach the model, and the model's answer reaches the Caption.
"""

from __future__ import annotations

import json
from pathlib import Path

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

CROP = 64
COLOURS = ("red", "green", "blue")  # the blob colours of the `scene_equirect` fixture

# The tiny model is built from a config, a tokenizer trained in code and the real Qwen2-VL processors,
# saved to a directory and loaded back through our backend, so nothing is downloaded and the real
# `generate` path runs.
SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# Minimal Qwen-style chat template: text parts and image placeholders, in message order.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def answer_json(colour: str) -> str:
    """The answer the tiny model is taught: a caption whose appearance names the blob's colour."""
    return json.dumps(
        {
            "role": "perpetrator",
            "appearance": f"{colour} shape",
            "motion": "standing",
            "interaction": "none",
            "speech": f"{colour} shape near you",
        }
    )


def build_tiny_qwen25vl(out_dir: Path, corpus: list[str]) -> Path:
    """Write a ~0.3 M parameter Qwen2.5-VL (config, trained BPE tokenizer, processors) to `out_dir`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        PreTrainedTokenizerFast,
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=2000, special_tokens=SPECIAL_TOKENS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token=None
    )
    ids = {t: fast.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    image_proc = Qwen2VLImageProcessor(min_pixels=28 * 28, max_pixels=56 * 84)
    video_proc = Qwen2VLVideoProcessor(min_pixels=28 * 28, max_pixels=56 * 84)
    processor = Qwen2_5_VLProcessor(
        image_processor=image_proc, tokenizer=fast, video_processor=video_proc, chat_template=CHAT_TEMPLATE
    )
    cfg = Qwen2_5_VLConfig(
        text_config=dict(
            vocab_size=len(fast), hidden_size=96, intermediate_size=192, initializer_range=0.05, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
            rope_parameters={"rope_type": "default", "mrope_section": [4, 4, 4], "rope_theta": 10000.0},
            bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
            tie_word_embeddings=True,
        ),
        vision_config=dict(
            depth=1, hidden_size=32, intermediate_size=64, num_heads=2, patch_size=14, spatial_merge_size=2,
            temporal_patch_size=2, window_size=112, out_hidden_size=96, initializer_range=0.05,
            fullatt_block_indexes=[0],
        ),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )
    model = Qwen2_5_VLForConditionalGeneration(cfg)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir


def _request(scene_equirect, colour: str, yaw: float, seed: int) -> CaptionRequest:
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
def trained(tmp_path_factory, scene_equirect):
    import torch

    torch.manual_seed(0)
    prompts = [build_caption_prompt(_request(scene_equirect, "red", 0.0, 0), 2)]
    corpus = [answer_json(c) for c in COLOURS] * 30 + [SYSTEM_PROMPT] * 10
    corpus += [p for p in prompts[0].parts if isinstance(p, str)] * 10
    model_dir = build_tiny_qwen25vl(tmp_path_factory.mktemp("tiny_qwen25vl"), corpus)
    backend = create_captioner(_cfg(model_dir))
    rng = np.random.default_rng(1)
    examples = [(_request(scene_equirect, c, float(rng.uniform(-170, 170)), 100 + 10 * k + j), c)
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
def test_caption_names_the_colour_of_the_boxed_entity(trained, scene_equirect, colour, yaw):
    req = _request(scene_equirect, colour, yaw, seed=999)
    cap = trained.caption(req)
    assert cap.source == "vlm" and cap.entity_id == 1
    assert cap.appearance.split()[0] == colour
    assert cap.speech.endswith(f"at {req.clock} o'clock")


def test_missing_model_directory_is_reported_as_such(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        create_captioner(_cfg(tmp_path / "nope"))
    with pytest.raises(ModelError, match="no config.json"):
        create_captioner(_cfg(tmp_path))
