"""Damaged input never reaches the motion model as if it were a picture.

Joining a stream mid-way, lost datagrams, decoder errors, grey or smeared frames and a frozen camera
all decode to something the motion model would take for a person moving. `DamageGuard` sits between
a decoder and the packets a source yields and decides per decoded frame, from what the decoder says
(key frame, corrupt flag, errors) and what the frame looks like (`quality.QualityCheck`):

- before the first clean key frame after joining, a reconnect, a decoder error or a broken picture
  (grey or smeared) frames are skipped: they are predicted from pictures this decoder never had whole,
  and a key frame that lost a piece fills it from them (a smear that lasts seconds);
- a frame the decoder marks corrupt, or that fails a quality check, is skipped;
- on a stream that was whole, frames predicted from a skipped corrupt one until the next key frame are
  delivered with `damaged=True`: their damage is a patch one frame old, the motion model may learn from
  them, but no alert may come from them;
- the first frame after skipped frames, a gap in the video timestamps, a frozen stretch or a whole
  new picture carries `discontinuity=True` and `gap_s` (video seconds missing), so the trigger stage
  re-warms the motion model when the gap is long.

Gaps are measured on the video timestamps (pts), never by counting frames: a 30 fps stream that loses
ten frames and a 10 fps stream that loses three lose the same time.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ego360.runtime.sources.quality import QualityCheck

FROZEN_S = 0.5  # identical frames for this long: the camera stalled; later copies are skipped
PTS_JUMP_S = 5.0  # a pts step this large (or backwards) is a restarted stream, not a gap


@dataclass
class SourceHealth:
    """Counters for the session summary (mutable: the source thread updates them while the run goes)."""

    frames_decoded: int = 0
    frames_delivered: int = 0
    skipped_key_wait: int = 0  # predicted from references never received (joined mid-stream, after errors)
    skipped_corrupt: int = 0  # the decoder marked the frame corrupt
    skipped_grey: int = 0
    skipped_smear: int = 0
    skipped_frozen: int = 0
    accepted_corrupt_keys: int = 0  # corrupt key frames that passed the checks (delivered if the stream was whole)
    skipped_damaged: int = 0  # decoded after joining/errors/a broken picture and before a clean key frame
    delivered_damaged: int = 0  # predicted from a damaged frame; delivered, never alerted from
    decoder_errors: int = 0
    corrupt_packets: int = 0
    pts_gaps: int = 0  # delivered frames whose pts step exceeded 1.5 frame periods
    pts_jumps: int = 0  # backwards or > PTS_JUMP_S: re-anchored on the capture clock
    discontinuities: int = 0
    abrupt_changes: int = 0
    key_waits: int = 0  # times the guard started waiting for a key frame
    pts_origin_s: float | None = None  # the stream pts that video_t 0 stands for (to line a stream up with its clip)

    def summary(self) -> dict[str, int | float | None]:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    """`deliver` False: drop the frame. Otherwise the packet's flags and its video time."""

    deliver: bool
    video_t: float = 0.0
    damaged: bool = False
    discontinuity: bool = False
    gap_s: float = 0.0
    reason: str = ""


class DamageGuard:
    """One per stream; `decide(...)` for every decoded frame, `restart()` after a reconnect.

    `has_keys` False (OpenCV device captures): the decoder says nothing about key frames or
    corruption, so only the quality checks and the timestamps apply."""

    def __init__(self, fps: float, *, has_keys: bool = True, check_quality: bool = True,
                 key_wait_s: float | None = None) -> None:
        self.fps = fps if fps and math.isfinite(fps) and fps > 0 else 30.0
        self.key_wait_s = key_wait_s  # stop waiting for a key frame after this much video (None: never)
        self._wait_from: float | None = None
        self.has_keys = has_keys
        self.health = SourceHealth()
        self.quality = QualityCheck() if check_quality else None
        self._need_key = has_keys
        self.health.key_waits += int(has_keys)
        self._tainted = False  # predicted from damage: delivered as `damaged`
        self._severe = has_keys  # ... from a picture never received whole: only a clean key frame ends it
        self._pending = False  # something was skipped or broken since the last delivered frame
        self._last_t: float | None = None  # video time of the last delivered frame
        self._anchor: tuple[float, float] | None = None  # (pts, video_t) the video clock counts from
        self._last_pts: float | None = None
        self._frozen_since: float | None = None

    def restart(self) -> None:
        """A new connection: wait for a key frame again, and mark the next frame as a discontinuity."""
        self._need_key = self.has_keys
        self.health.key_waits += int(self.has_keys)
        self._tainted, self._pending, self._last_pts, self._frozen_since = False, True, None, None
        self._severe = self.has_keys
        self._anchor = self._wait_from = None

    def decoder_error(self) -> None:
        """The decoder raised: its references are unknown until the next key frame."""
        self.health.decoder_errors += 1
        self._pending = True
        if self.has_keys and not self._need_key:
            self._need_key = self._severe = True
            self.health.key_waits += 1

    def _clock(self, pts: float | None, capture_t: float) -> tuple[float, bool]:
        """(video_t, jumped): pts-based, re-anchored on the capture clock when pts restarts or wraps."""
        if pts is None:
            return capture_t, False
        jumped = self._last_pts is not None and not 0.0 < pts - self._last_pts < PTS_JUMP_S
        if self._anchor is None or jumped:
            if jumped:
                self.health.pts_jumps += 1
            base = capture_t if self._last_t is None else max(capture_t, self._last_t + 1.0 / self.fps)
            self._anchor = (pts, base)
            if self.health.pts_origin_s is None:
                self.health.pts_origin_s = pts - base
        self._last_pts = pts
        return self._anchor[1] + (pts - self._anchor[0]), jumped

    def decide(self, image: np.ndarray, *, pts: float | None, capture_t: float, key: bool = False,
               corrupt: bool = False) -> Decision:
        h = self.health
        h.frames_decoded += 1
        video_t, jumped = self._clock(pts, capture_t)
        if (self._need_key or self._severe) and self.key_wait_s is not None:
            self._wait_from = video_t if self._wait_from is None else self._wait_from
            if video_t - self._wait_from >= self.key_wait_s:  # no (clean) key frames: intra refresh, or worse
                self._need_key = self._severe = False
        if self._need_key and not key:
            h.skipped_key_wait += 1
            self._pending = True
            return Decision(False, video_t, reason="key-wait")
        if corrupt and not key:
            h.skipped_corrupt += 1
            self._pending = self._tainted = True
            return Decision(False, video_t, reason="corrupt")
        # A key frame, even one that lost a piece (with a few percent of datagrams lost most large intra
        # frames do), goes on to the quality checks: a piece filled from nothing shows grey or streaks.
        was_waiting = self._need_key
        abrupt = False
        if self.quality is not None:
            verdict = self.quality.check(image, video_t, suspect=corrupt or self._pending)
            if verdict.damaged:
                setattr(h, f"skipped_{verdict.reason}", getattr(h, f"skipped_{verdict.reason}") + 1)
                self._pending = True
                # a broken picture taints what follows until a clean key frame (no keys: nothing to wait for)
                self._tainted = self._severe = self._tainted or self.has_keys
                return Decision(False, video_t, reason=verdict.reason)
            if key:
                self._refresh(corrupt)
            if verdict.frozen:
                self._frozen_since = video_t if self._frozen_since is None else self._frozen_since
                if video_t - self._frozen_since >= FROZEN_S:
                    h.skipped_frozen += 1
                    self._pending = True
                    return Decision(False, video_t, reason="frozen")
            else:
                self._frozen_since = None
            abrupt = verdict.abrupt and not was_waiting
            h.abrupt_changes += int(abrupt)
        elif key:
            self._refresh(corrupt)
        if self._severe and self.has_keys:
            # Not even learnt from: a background model that learnt a smeared street sees the real one as
            # a mover when the clean key frame comes (measured: a 7 o'clock alert for a 6 o'clock event).
            h.skipped_damaged += 1
            self._pending = True
            return Decision(False, video_t, reason="damaged")
        return self._deliver(video_t, jumped, abrupt)

    def _refresh(self, corrupt: bool) -> None:
        """A key frame ends the wait. A clean one ends all damage. A corrupt one lost a piece, which the
        decoder filled from the previous frame: after a loss on a whole stream that is a one-frame-old
        patch (the damage ends here), but after joining, a reconnect, a decoder error or a broken picture
        the previous frame was itself broken, and the fill carries that on (measured: 3-15 % of the
        pixels wrong for seconds), so the damage lasts until a clean key frame."""
        if corrupt:
            self.health.accepted_corrupt_keys += 1
            self._tainted = self._severe
        else:
            self._tainted = self._severe = False
        self._need_key, self._wait_from = False, None

    def _deliver(self, video_t: float, jumped: bool, abrupt: bool) -> Decision:
        h = self.health
        period = 1.0 / self.fps
        gap = 0.0 if self._last_t is None else max(0.0, video_t - self._last_t - period)
        if self._last_t is not None and video_t - self._last_t > 1.5 * period:
            h.pts_gaps += 1
        first = self._last_t is None
        disc = not first and (self._pending or jumped or abrupt or gap > 0.5 * period)
        if jumped or abrupt:
            gap = math.inf  # the time between the two pictures is unknown: always re-warm
        self._last_t, self._pending = video_t, False
        h.frames_delivered += 1
        h.discontinuities += int(disc)
        h.delivered_damaged += int(self._tainted)
        return Decision(True, video_t, damaged=self._tainted, discontinuity=disc, gap_s=gap if disc else 0.0)
