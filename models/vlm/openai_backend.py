"""Captions from any OpenAI-compatible chat-completions server with image input.

vLLM, llama.cpp's `llama-server --mmproj`, Ollama and `trtllm-serve` all speak this protocol, so a
Jetson deployment swaps models without code changes. Standard library only (urllib): one request at
a time per call, a hard socket timeout from the caption deadline, and the API key read from the
environment at each request so it is never stored, logged or shown in an error.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
import urllib.error
import urllib.request

import cv2
import numpy as np

from ego360.core.config import CaptionerConfig
from ego360.core.errors import ConfigError
from ego360.core.packets import Caption, CaptionRequest
from ego360.models.vlm.base import Completion, VLMError, caption_with_repair, log
from ego360.models.vlm.prompt import Prompt
from ego360.models.vlm.views import limit_pixels


def jpeg_data_url(img: np.ndarray, quality: int = 90) -> str:
    """RGB uint8 image → `data:image/jpeg;base64,...` (what every server accepts in image_url)."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise VLMError("could not encode an image as JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


class OpenAICaptioner:
    """`captioner.backend = "openai"`."""

    name = "openai"
    is_vlm = True

    def __init__(self, cfg: CaptionerConfig):
        if not cfg.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"captioner.base_url: {cfg.base_url!r} is not an http(s) URL; "
                              "use e.g. --set captioner.base_url=http://127.0.0.1:8000/v1")
        if not cfg.model:
            raise ConfigError("captioner.model is empty; set it to the server's model name, "
                              "e.g. --set captioner.model=Qwen/Qwen2.5-VL-3B-Instruct")
        self.cfg = cfg
        self.max_frames = cfg.max_frames
        self.deadline_s = cfg.deadline_s
        self.url = cfg.base_url.rstrip("/") + "/chat/completions"
        self._schema_ok = cfg.json_schema  # flips to False once if the server rejects response_format

    def __repr__(self) -> str:
        return f"OpenAICaptioner(url={self.url!r}, model={self.cfg.model!r})"

    def caption(self, request: CaptionRequest) -> Caption:
        """Blocking; raises VLMError when the server fails (the async runner keeps the template)."""
        return caption_with_repair(self, request)

    def _messages(self, prompt: Prompt) -> tuple[list[dict], tuple[tuple[int, int], ...]]:
        content: list[dict] = []
        sizes = []
        for part in prompt.parts:
            if isinstance(part, str):
                content.append({"type": "text", "text": part})
            else:
                img = limit_pixels(part, self.cfg.max_pixels)
                sizes.append((int(img.shape[1]), int(img.shape[0])))
                content.append({"type": "image_url", "image_url": {"url": jpeg_data_url(img)}})
        return [{"role": "system", "content": prompt.system}, {"role": "user", "content": content}], tuple(sizes)

    def complete(self, prompt: Prompt, schema: dict | None, timeout_s: float | None = None) -> Completion:
        messages, sizes = self._messages(prompt)
        body: dict = {"model": self.cfg.model, "messages": messages, "max_tokens": self.cfg.max_new_tokens,
                      "temperature": self.cfg.temperature}
        timeout = timeout_s if timeout_s is not None else self.cfg.deadline_s
        if schema is not None and self._schema_ok:
            fmt = {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema, "strict": True}}
            t0 = time.monotonic()
            status, reply = self._post({**body, "response_format": fmt}, timeout)
            if status != 400:
                return Completion(self._content(status, reply), sizes, sizes)
            log.info("%s rejected response_format json_schema (HTTP 400); using plain JSON prompts from now on",
                     self.url)
            self._schema_ok = False
            timeout = max(0.05, timeout - (time.monotonic() - t0))
        status, reply = self._post(body, timeout)
        return Completion(self._content(status, reply), sizes, sizes)

    def _post(self, body: dict, timeout: float) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.cfg.api_key_env, "") if self.cfg.api_key_env else ""
        if key:
            headers["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read() if exc.fp is not None else b""
        except TimeoutError:
            raise VLMError(f"{self.url} did not answer within {timeout:.1f} s") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError | socket.timeout):
                raise VLMError(f"{self.url} did not answer within {timeout:.1f} s") from None
            raise VLMError(f"cannot reach {self.url} ({reason})") from None
        except (ConnectionError, OSError) as exc:
            raise VLMError(f"connection to {self.url} failed ({type(exc).__name__})") from None

    def _content(self, status: int, reply: bytes) -> str:
        if status != 200:
            raise VLMError(f"{self.url} answered HTTP {status}")
        try:
            data = json.loads(reply)
            content = data["choices"][0]["message"].get("content")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise VLMError(f"{self.url} sent a reply that is not a chat completion") from None
        if isinstance(content, list):  # some servers return content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return content or ""
