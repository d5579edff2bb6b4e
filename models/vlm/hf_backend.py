"""Captions from a local VLM directory through transformers (Qwen2.5-VL / Qwen3-VL / SmolVLM class).

Loaded strictly offline: a wearer's device must never stall on a hub download, and a wrong path
must say "this directory does not exist", not "could not connect to huggingface.co". Frames and
pixels per request are bounded so one caption cannot take the device's memory or time.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ego360.core.config import CaptionerConfig
from ego360.core.errors import ConfigError, ModelError
from ego360.core.packets import Caption, CaptionRequest
from ego360.models.vlm.base import Completion, VLMError, caption_with_repair
from ego360.models.vlm.prompt import Prompt
from ego360.models.vlm.views import limit_pixels


def check_model_dir(model_dir: str) -> Path:
    """The directory must exist and hold a transformers config; say which of the two is wrong."""
    if not model_dir:
        raise ConfigError("captioner.model_dir is empty; set it to a local model directory, "
                          "e.g. --set captioner.model_dir=/models/Qwen2.5-VL-3B-Instruct")
    path = Path(model_dir).expanduser()
    if not path.is_dir():
        raise ModelError(f"VLM model directory {path} does not exist; download the model there first "
                         "(e.g. `hf download Qwen/Qwen2.5-VL-3B-Instruct --local-dir DIR`) or fix captioner.model_dir")
    if not (path / "config.json").is_file():
        raise ModelError(f"VLM model directory {path} has no config.json; point captioner.model_dir at the folder "
                         "that holds config.json, the weights and the processor files")
    return path


def _device(name: str) -> Any:
    import torch

    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"captioner.device={name} but CUDA is not available; use --set captioner.device=cpu")
    return torch.device(name)


class TransformersCaptioner:
    """`captioner.backend = "transformers"`; thread-safe (one generate at a time)."""

    name = "transformers"
    is_vlm = True

    def __init__(self, cfg: CaptionerConfig):
        path = check_model_dir(cfg.model_dir)
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.cfg = cfg
        self.max_frames = cfg.max_frames
        self.deadline_s = cfg.deadline_s
        self.device = _device(cfg.device)
        dtype = torch.bfloat16 if self.device.type == "cuda" else torch.float32
        try:
            self.processor = AutoProcessor.from_pretrained(path, local_files_only=True)
            self.model = AutoModelForImageTextToText.from_pretrained(path, local_files_only=True, dtype=dtype)
        except (OSError, ValueError, KeyError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"cannot load the VLM from {path} ({first[:200]}); "
                             "the directory must hold a complete image-text-to-text model") from None
        self.model.to(self.device).eval()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TransformersCaptioner(model_dir={self.cfg.model_dir!r}, device={self.device})"

    def caption(self, request: CaptionRequest) -> Caption:
        """Blocking; raises VLMError on an unusable reply (the async runner keeps the template)."""
        return caption_with_repair(self, request)

    def _messages(self, prompt: Prompt) -> list[dict]:
        content = [{"type": "text", "text": p} if isinstance(p, str) else {"type": "image"} for p in prompt.parts]
        return [{"role": "system", "content": prompt.system}, {"role": "user", "content": content}]

    def _model_sizes(self, inputs: Any, sent: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
        """Image sizes after the processor's own resize (Qwen-VL boxes are in these pixels)."""
        grid = inputs.get("image_grid_thw") if hasattr(inputs, "get") else None
        patch = getattr(getattr(self.processor, "image_processor", None), "patch_size", None)
        if grid is None or patch is None:
            return sent
        return tuple((int(g[2]) * int(patch), int(g[1]) * int(patch)) for g in grid.tolist())

    def prepare(self, prompt: Prompt) -> tuple[Any, tuple[tuple[int, int], ...]]:
        """Processor inputs for `prompt` (images bounded by max_pixels) and the sent image sizes (w, h)."""
        from PIL import Image

        images = [limit_pixels(np.asarray(p), self.cfg.max_pixels) for p in prompt.images]
        sent = tuple((int(i.shape[1]), int(i.shape[0])) for i in images)
        text = self.processor.apply_chat_template(self._messages(prompt), tokenize=False, add_generation_prompt=True)
        kwargs: dict[str, Any] = {"text": [text], "return_tensors": "pt"}
        if images:
            kwargs["images"] = [Image.fromarray(i) for i in images]
        return self.processor(**kwargs).to(self.device), sent

    def complete(self, prompt: Prompt, schema: dict | None, timeout_s: float | None = None) -> Completion:
        """One greedy generate; `schema` is only in the prompt's words here (no constrained decoding)."""
        import torch

        inputs, sent = self.prepare(prompt)
        budget = timeout_s if timeout_s is not None else self.deadline_s
        try:
            with self._lock, torch.inference_mode():
                out = self.model.generate(**inputs, max_new_tokens=self.cfg.max_new_tokens, do_sample=False,
                                          max_time=max(0.05, budget))
        except (RuntimeError, ValueError) as exc:
            raise VLMError(f"generate failed ({str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__})"
                           ) from None
        new = out[:, inputs["input_ids"].shape[1]:]
        reply = self.processor.batch_decode(new, skip_special_tokens=True)[0]
        return Completion(reply, self._model_sizes(inputs, sent), sent)
