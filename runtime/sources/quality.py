"""Frame-quality checks for damage a decoder does not always report.

A stream joined before a key frame decodes to mid-grey macroblocks; a lost packet is concealed by
smearing rows of macroblocks or by stale patches; a stalled camera repeats one buffer; a decoder that
resynchronises jumps to a whole new picture. The motion model reads every one of these as a person
moving, so the source must catch them before the trigger sees them. The checks run on a small copy
(`SMALL_W` wide, ~1 ms at 1920×960) and compare against the last frame that passed, because damage is
what *appears*: a grey overcast sky or a flat wall is grey in every frame and is not damage.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SMALL_W = 240  # grey-block, frozen and whole-frame checks
SMEAR_W = 480  # smeared rows need macroblock-row resolution (16 px rows of a 960-wide stream → 8 px here)
BLOCK = 8  # grey-block size on the small copy (one 16×16 macroblock of a 480-wide stream, 64 px at 1920)
GREY_FRACTION = 0.10  # share of blocks newly flat mid-grey that makes a frame damaged
SMEAR_BAND = 8  # rows of the SMEAR_W copy that one smeared macroblock row spans
SMEAR_RATIO = 0.3  # a band changes less than this share down as across: streaks
SMEAR_TEXTURE = 2.0  # grey levels per pixel across: below it a band is flat (sky, road) and says nothing
SMEAR_BANDS = 2  # newly smeared bands that make a frame damaged (a lost packet smears to the frame's end)
ABRUPT_FRACTION = 0.5  # share of pixels that changed a lot, even after the best horizontal shift
ABRUPT_LEVEL = 40.0  # grey levels a pixel must change by to count as changed


@dataclass(frozen=True)
class Verdict:
    """What the checks found in one frame: `damaged` frames must not reach the motion model;
    `abrupt` frames are real pictures but a new scene (the model must re-warm on them)."""

    damaged: bool
    reason: str  # "" | "grey" | "smear"
    abrupt: bool
    frozen: bool  # identical to the previous frame (a stalled camera repeats its last buffer)


def small_views(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(small RGB float32, smear-resolution grey float32) of an RGB uint8 frame."""
    h, w = image.shape[:2]
    # Every k-th pixel, not an area average: ~0.2 ms instead of ~5-15 ms at 1920, and what the checks look
    # for (exactly flat blocks, exactly repeated rows, identical frames) survives subsampling unchanged.
    k = max(1, w // SMEAR_W)
    mid = np.ascontiguousarray(image[::k, ::k])
    small = cv2.resize(mid, (SMALL_W, max(2, SMALL_W * h // w)), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32), cv2.cvtColor(mid, cv2.COLOR_RGB2GRAY).astype(np.float32)


def grey_blocks(small: np.ndarray) -> np.ndarray:
    """Bool map of BLOCK×BLOCK blocks that are flat, colourless and mid-grey: what a decoder shows
    for macroblocks whose reference it never received (Y = U = V = 128, plus at most a residual)."""
    h, w = small.shape[:2]
    hb, wb = h // BLOCK, w // BLOCK
    img = small[:hb * BLOCK, :wb * BLOCK]
    luma = img.mean(axis=2)
    mean = cv2.resize(img, (wb, hb), interpolation=cv2.INTER_AREA)  # block means, hb × wb × 3
    var = cv2.resize(luma * luma, (wb, hb), interpolation=cv2.INTER_AREA) - \
        cv2.resize(luma, (wb, hb), interpolation=cv2.INTER_AREA) ** 2
    flat = var < 4.0  # luma std < 2 grey levels
    neutral = (np.abs(mean[..., 0] - mean[..., 1]) < 4.0) & (np.abs(mean[..., 2] - mean[..., 1]) < 4.0)
    mid = np.abs(mean[..., 1] - 128.0) < 10.0
    return flat & neutral & mid


def smeared_bands(grey: np.ndarray) -> np.ndarray:
    """Bool per SMEAR_BAND-row band: the picture barely changes down the band although it has texture
    across — rows stretched downwards from the last row received (error concealment of a lost packet
    draws vertical streaks). A camera's picture changes about as much down as across."""
    h, w = grey.shape
    nb = h // SMEAR_BAND
    bands = grey[:nb * SMEAR_BAND].reshape(nb, SMEAR_BAND, w)
    down = np.abs(np.diff(bands, axis=1)).mean(axis=(1, 2))
    across = np.abs(np.diff(bands, axis=2)).mean(axis=(1, 2))
    return (across > SMEAR_TEXTURE) & (down < SMEAR_RATIO * across)


def whole_frame_change(small: np.ndarray, prev: np.ndarray, max_shift: int = 16) -> float:
    """Share of pixels that changed by more than ABRUPT_LEVEL, at the best horizontal shift within
    ±max_shift (the wearer turning moves the whole 360° frame sideways, which is not a new scene) and
    after removing a global brightness step (auto-exposure)."""
    a, b = small.mean(axis=2), prev.mean(axis=2)
    a = a - a.mean() + b.mean()
    best = 1.0
    for shift in sorted(range(-max_shift, max_shift + 1, 2), key=abs):
        changed = float((np.abs(a - np.roll(b, shift, axis=1)) > ABRUPT_LEVEL).mean())
        best = min(best, changed)
        if best <= ABRUPT_FRACTION:  # explained by no or a small turn: not a new picture
            break
    return best


class QualityCheck:
    """Stateful per-stream checks; `check(image)` → Verdict. Damaged frames do not become the
    reference, so a run of grey frames stays 'new grey' until the picture is whole again."""

    def __init__(self, persistent_s: float = 2.0) -> None:
        self.persistent_s = persistent_s  # grey/smear that stays this long is the scene, not damage
        self._ref: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        self._last_small: np.ndarray | None = None
        self._bad_since: float | None = None

    def reset(self) -> None:
        self._ref, self._last_small, self._bad_since = None, None, None

    def check(self, image: np.ndarray, t: float, suspect: bool = False,
              views: tuple[np.ndarray, np.ndarray] | None = None) -> Verdict:
        """`suspect`: the decoder marked the frame corrupt. With no accepted frame yet (the first one of a
        stream) only a suspect frame is checked for grey blocks: a grey wall is grey from the start, and
        joining before a key frame is handled by the key-frame wait. `views`: `small_views(image)` when
        the caller already made them."""
        small, grey = views if views is not None else small_views(image)
        frozen = self._last_small is not None and np.array_equal(small, self._last_small)
        self._last_small = small
        gb, sb = grey_blocks(small), smeared_bands(grey)
        if self._ref is None:  # a fence is streaky and a wall grey from the first frame on: only suspects
            new_grey, new_smear = (gb, sb) if suspect else (np.zeros_like(gb), np.zeros_like(sb))
        else:
            new_grey, new_smear = gb & ~self._ref[2], sb & ~self._ref[3]
        reason = "grey" if new_grey.mean() > GREY_FRACTION else "smear" if new_smear.sum() >= SMEAR_BANDS else ""
        if reason and self._bad_since is None:
            self._bad_since = t
        if reason and t - self._bad_since < self.persistent_s:
            return Verdict(True, reason, False, frozen)
        self._bad_since = None
        abrupt = self._ref is not None and whole_frame_change(small, self._ref[0]) > ABRUPT_FRACTION
        self._ref = (small, grey, gb, sb)
        return Verdict(False, "", abrupt, frozen)
