"""Helpers for the VLM tests: a tiny real-architecture Qwen2.5-VL built offline, and synthetic scenes.

The tiny model is built from a config, a tokenizer trained in code and the real Qwen2-VL processors,
saved to a directory and loaded back through our backend, so nothing is downloaded and the real
`generate` path runs. It is trained for a few seconds on the exact inputs our backend sends, because
random weights would say nothing about whether pixels reach the model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

COLOURS = {"red": (230, 30, 30), "green": (30, 200, 40), "blue": (40, 60, 230)}

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


def scene_equirect(colour: str, yaw_deg: float = 30.0, size: tuple[int, int] = (256, 512), seed: int = 0):
    """A grey equirect with one coloured blob at `yaw_deg` on the horizon; returns (image, mask)."""
    h, w = size
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 110, np.uint8)
    img = np.clip(img.astype(int) + rng.integers(-12, 13, img.shape), 0, 255).astype(np.uint8)
    cx = int((yaw_deg / 360.0 + 0.5) * w) % w
    cy = h // 2 + int(rng.integers(-8, 9))
    rx, ry = int(rng.integers(14, 20)), int(rng.integers(18, 26))
    yy, xx = np.mgrid[0:h, 0:w]
    dx = (xx - cx + w // 2) % w - w // 2
    mask = (dx / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
    jitter = rng.integers(-20, 21, 3)
    img[mask] = np.clip(np.array(COLOURS[colour]) + jitter, 0, 255).astype(np.uint8)
    return img, mask


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
