"""VLM captioners (OpenAI-compatible server or local transformers model) behind the Captioner interface.

Heavy imports stay inside the factories so `import models.vlm` is cheap.
"""

from __future__ import annotations

from typing import Any

from runtime.config import CaptionerConfig, check_choice

BACKENDS = ("openai", "transformers")


def create_captioner(cfg: CaptionerConfig) -> Any:
    """A blocking Captioner for `cfg.backend`; wrap it in AsyncCaptioner to keep it off the frame loop."""
    check_choice("captioner.backend", cfg.backend, BACKENDS)
    if cfg.backend == "openai":
        from models.vlm.openai_backend import OpenAICaptioner

        return OpenAICaptioner(cfg)
    from models.vlm.hf_backend import TransformersCaptioner

    return TransformersCaptioner(cfg)


def create_async_captioner(cfg: CaptionerConfig) -> Any:
    """The VLM backend wrapped for the pipeline: template first, VLM captions later via poll()."""
    from models.vlm.async_runner import AsyncCaptioner

    return AsyncCaptioner(create_captioner(cfg), deadline_s=cfg.deadline_s, workers=cfg.workers)
