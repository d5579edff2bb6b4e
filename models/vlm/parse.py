"""The one parser both VLM backends share: JSON extraction, schema check and direction sanitising.

A VLM looks at crops, so its "left", "behind" or "3 o'clock" are relative to a picture, not to the
wearer's body; spoken to a blind person they would point the wrong way. Every direction phrase the
model writes is therefore removed, and the spoken line gets our measured clock bearing instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from ego360.core.packets import Caption, CaptionRequest

MAX_SPEECH_WORDS = 12
MAX_FIELD_WORDS = 24


class ParseError(ValueError):
    """The model's text is not the JSON we asked for (the backend may try one repair)."""


_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)


def extract_json(text: str) -> object:
    """The first JSON value in `text`, with ```json fences and surrounding prose tolerated."""
    if not text or not text.strip():
        raise ParseError("empty reply")
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for cand in candidates:
        cand = cand.strip()
        try:
            return json.loads(cand)
        except json.JSONDecodeError:
            pass
        for open_c, close_c in (("{", "}"), ("[", "]")):
            start, end = cand.find(open_c), cand.rfind(close_c)
            if 0 <= start < end:
                try:
                    return json.loads(cand[start : end + 1])
                except json.JSONDecodeError:
                    continue
    raise ParseError(f"no JSON object in reply: {text.strip()[:80]!r}")


# --- direction sanitising -------------------------------------------------------------------------

_NUM = r"(?:1[0-2]|0?[1-9]|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_PREP = r"(?:(?:on|to|from|at|towards?|over|off)\s+(?:to\s+)?)?"
_DET = r"(?:(?:your|the|my|their)\s+)?"
_MOD = r"(?:(?:far|hard|just|right|directly|straight|slightly|immediately)\s+)?"
_YOU = r"(?:\s+(?:of\s+)?(?:you|the\s+wearer))?"

_CLOCK = re.compile(
    rf"\b{_PREP}{_DET}{_NUM}\s*(?:o\s*['’`]?\s*clock|oclock)(?:\s+(?:position|direction))?\b|\bat\s+your\s+{_NUM}\b",
    re.I,
)
_LEFT_RIGHT = re.compile(
    rf"\b{_PREP}{_DET}{_MOD}(?:left|right)(?:[-\s]?hand(?:ed)?\s+side|\s+side|wards?)?{_YOU}\b", re.I
)
_FRONT_BACK = re.compile(
    rf"\b{_PREP}{_MOD}(?:behind|ahead|in\s+front|(?:the|your)\s+(?:rear|back))(?:\s+of)?{_YOU}\b", re.I
)
_COMPASS = re.compile(rf"\b{_PREP}{_DET}(?:north|south|east|west)(?:[- ]?(?:east|west))?(?:wards?)?\b", re.I)
_BODY = re.compile(r"\s*[-\s]?(?:hand|arm|leg|foot|shoulder|eye|ear|wrist|knee|side\s+of\s+(?:his|her|its))\b", re.I)
_POSSESSIVE = re.compile(r"\b(?:his|her|its|their|a|one)\s+$", re.I)
_ADVERB_RIGHT = re.compile(r"\s+(?:now|away|here|there|after|before|then|into|through|next)\b", re.I)
_OBJECT_AFTER = re.compile(r"\s+(?:of\s+)?(?:a|an|the|his|her|their|its|this|that|some|him|them|it)\b", re.I)
_WEARER = re.compile(r"\b(?:the\s+(?:camera\s+)?wearer|the\s+person\s+wearing\s+the\s+camera|the\s+camera)\b", re.I)


def _keep_left_right(text: str, m: re.Match) -> bool:
    """'his left hand', 'right now', 'left the shop' are not directions; keep them."""
    word = m.group(0).strip().lower()
    after = text[m.end() :]
    if word in ("left", "right") and _POSSESSIVE.search(text[: m.start()]) and _BODY.match(after):
        return True
    if word in ("left", "right") and _BODY.match(after):
        return True
    if word == "right" and (_ADVERB_RIGHT.match(after) or re.search(r"\ball\s+$", text[: m.start()], re.I)):
        return True
    return word == "left" and bool(_OBJECT_AFTER.match(after))


def _keep_front_back(text: str, m: re.Match) -> bool:
    """'behind a car', 'in front of the shop' locate relative to a thing, not to the wearer."""
    if re.search(r"(?:you|wearer)$", m.group(0), re.I):
        return False
    return bool(_OBJECT_AFTER.match(text[m.end() :]))


_RULES: tuple[tuple[re.Pattern, Callable[[str, re.Match], bool] | None], ...] = (
    (_CLOCK, None),
    (_FRONT_BACK, _keep_front_back),
    (_LEFT_RIGHT, _keep_left_right),
    (_COMPASS, None),
)

_MARK = "\x00"


def _mark_directions(text: str) -> str:
    """Replace every direction phrase by a marker so callers can drop it or put ours in its place."""
    for pattern, keep in _RULES:

        def sub(m: re.Match, _keep=keep) -> str:
            return m.group(0) if _keep is not None and _keep(m.string, m) else _MARK

        text = pattern.sub(sub, text)
    return text


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    text = re.sub(r"^[\s,;:.-]+|[\s,;:-]+$", "", text)
    return text.strip()


def _to_you(text: str) -> str:
    """The wearer is "you" in everything spoken to them."""
    text = _WEARER.sub("you", text)
    return re.sub(r"\byou (is|was|has)\b", lambda m: "you " + {"is": "are", "was": "were", "has": "have"}[m[1]], text)


def strip_directions(text: str) -> str:
    """Remove every direction the model wrote (left/right, ahead/behind, clock hours, compass)."""
    text = _to_you(text)
    return _tidy(_mark_directions(text).replace(_MARK, " "))


def clock_phrase(clock: int) -> str:
    return f"at {int(clock)} o'clock"


def sanitise_speech(text: str, clock: int, max_words: int = MAX_SPEECH_WORDS) -> str:
    """Our bearing exactly once: in place of the model's first direction, else appended; ≤ max_words."""
    ours = clock_phrase(clock)
    head, sep, tail = _mark_directions(_to_you(text)).partition(_MARK)
    head_words = _tidy(head).split()
    tail_words = re.sub(r"^[\s-]+", "", tail.replace(_MARK, " ")).split() if sep else []
    budget = max(max_words - len(ours.split()), 0)
    head_words = head_words[:budget]
    tail_words = tail_words[: max(budget - len(head_words), 0)]
    return _tidy(" ".join([*head_words, ours, *tail_words]))


def _truncate_words(text: str, n: int) -> str:
    words = text.split()
    return " ".join(words[:n])


def _field(data: dict, key: str) -> str:
    value = data.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ParseError(f"'{key}' is not a string: {value!r}"[:120])
    return value.strip()


def parse_caption(text: str, request: CaptionRequest) -> Caption:
    """Model text → Caption for `request`'s entity; role and bearing are ours, wording is the model's."""
    data = extract_json(text)
    if not isinstance(data, dict):
        raise ParseError("reply is JSON but not an object")
    missing = [k for k in ("appearance", "speech") if k not in data]
    if missing:
        raise ParseError(f"reply lacks {', '.join(missing)}")
    appearance = _truncate_words(strip_directions(_field(data, "appearance")), MAX_FIELD_WORDS)
    motion = _truncate_words(strip_directions(_field(data, "motion")), MAX_FIELD_WORDS)
    interaction = _truncate_words(strip_directions(_field(data, "interaction")), MAX_FIELD_WORDS)
    speech_raw = _field(data, "speech")
    if not appearance and not speech_raw:
        raise ParseError("reply has an empty appearance and speech")
    _field(data, "role")  # type check only: the role is measured by our entity stage
    return Caption(
        entity_id=request.entity_id,
        frame_index=request.frame_index,
        role=request.role,
        appearance=appearance,
        motion=motion,
        speech=sanitise_speech(speech_raw, request.clock),
        source="vlm",
        interaction=interaction,
    )
