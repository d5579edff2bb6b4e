"""What both VLM backends share: the completion contract, errors and the one-repair caption flow."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Protocol

from ego360.core.packets import Caption, CaptionRequest
from ego360.models.vlm.parse import ParseError, parse_caption
from ego360.models.vlm.prompt import CAPTION_SCHEMA, Prompt, build_caption_prompt, build_repair_prompt

log = logging.getLogger("ego360.vlm")


class VLMError(RuntimeError):
    """A request that failed at run time (unreachable, HTTP error, timeout, unusable reply).

    Not a UserError: the run goes on with the template caption, and the failure is counted.
    """


@dataclass(frozen=True)
class Completion:
    """The model's text and the size (w, h) of each image as the model saw it (for pixel boxes)."""

    text: str
    model_sizes: tuple[tuple[int, int], ...] = ()
    sent_sizes: tuple[tuple[int, int], ...] = ()


class Backend(Protocol):
    name: str
    max_frames: int
    deadline_s: float

    def complete(self, prompt: Prompt, schema: dict | None, timeout_s: float | None = None) -> Completion:
        """One chat turn; raises VLMError on transport failures."""


def caption_with_repair(backend: Backend, request: CaptionRequest) -> Caption:
    """Ask once; if the reply is not our JSON, show the model its reply and ask once more."""
    t0 = time.monotonic()
    prompt = build_caption_prompt(request, backend.max_frames)
    first = backend.complete(prompt, CAPTION_SCHEMA)
    if not first.text.strip():
        raise VLMError("the VLM answered with empty content")
    try:
        return parse_caption(first.text, request)
    except ParseError as exc:
        log.info("VLM reply for entity %d unusable (%s); one repair attempt", request.entity_id, exc)
    repair = Prompt(system=prompt.system, parts=(build_repair_prompt(first.text),))
    left = backend.deadline_s - (time.monotonic() - t0)
    if left <= 0:
        raise VLMError("no time left for a repair attempt before the caption deadline")
    second = backend.complete(repair, CAPTION_SCHEMA, timeout_s=left)
    try:
        return parse_caption(second.text, request)
    except ParseError as exc:
        raise VLMError(f"the VLM reply is not valid caption JSON after one repair ({exc})") from None
