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

`policy="converge"` (`source.loss_policy`) is for streams where no key frame ever arrives whole (at
1920×960 an intra frame spans ~100 datagrams: with 5 % lost, < 1 % arrive intact, and the strict policy
stays silent). Its damage estimate is what each key frame *repairs*: the share of the picture that
changed from the frame before it (`repair_share`). On a whole stream a key frame changes almost nothing
(measured ≤ 1.3 % of the small copy, a person crossing close); after damage it replaces the stale or
smeared patches the P-frames carried (0.4–46 % measured at 5 % loss). After joining, a reconnect, a
decoder error, a broken picture or a large repair, every frame is delivered `damaged` (learnt from,
never alerted from) until `CONVERGE_KEYS` key frames in a row repaired at most `REPAIR_MAX`; the frame
that ends this carries a discontinuity with an unknown gap, so the trigger stage re-warms the motion
model on the converged picture (what it learnt from the damaged ones is dropped). Damage a key frame
never repairs is a stale patch: static, it hides a mover there (a miss) but makes none. Corrupt P-frames
are delivered (skipping them does not help: the decoder predicts from them anyway); what they break is
measured by the next key frame's repair. Not safe enough to be the default: a key frame's own concealment
changes little and passes as a small repair (measured at 1920×960, 5 % loss, resync markers: frames with
up to 3 % of the pixels wrong delivered as clean; one event of five announced on the wrong side).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ego360.runtime.sources.quality import QualityCheck, small_views

FROZEN_S = 0.5  # identical frames for this long: the camera stalled; later copies are skipped
PTS_JUMP_S = 5.0  # a pts step this large (or backwards) is a restarted stream, not a gap
REPAIR_LEVEL = 25.0  # grey levels (small copy) a pixel must change by at a key frame to count as repaired
REPAIR_MAX = 0.04  # key-frame repair share up to which the picture before it counts as converged
CONVERGE_KEYS = 2  # key frames in a row with a small repair before damage-free delivery resumes
# The frames of this much video after convergence all carry the re-warm mark: the live runner drops the
# oldest frames when it falls behind, and a dropped mark would leave the model with what it learnt from damage.
CONVERGE_MARK_S = 0.3
POLICIES = ("strict", "converge")


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
    key_frames: int = 0
    clean_key_frames: int = 0  # key frames the decoder did not mark corrupt
    converged: int = 0  # converge policy: times the picture was judged whole again (each re-warms the model)
    large_repairs: int = 0  # converge policy: key frames that repaired more than REPAIR_MAX
    max_repair_share: float = 0.0
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
                 key_wait_s: float | None = None, policy: str = "strict") -> None:
        if policy not in POLICIES:
            raise ValueError(f"loss policy {policy!r}: expected one of {', '.join(POLICIES)}")
        self.policy = policy
        self._converging = True  # converge policy: frames are `damaged` until key frames repair little
        self._good_keys = 0
        self._prev_small: np.ndarray | None = None
        self._mark_until = -math.inf
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
        self._converging, self._good_keys = True, 0

    def decoder_error(self) -> None:
        """The decoder raised: its references are unknown until the next key frame."""
        self.health.decoder_errors += 1
        self._pending = True
        if self.has_keys and not self._need_key:
            self._need_key = self._severe = True
            self.health.key_waits += 1
        self._converging, self._good_keys = True, 0

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
        h.key_frames += int(key)
        h.clean_key_frames += int(key and not corrupt)
        video_t, jumped = self._clock(pts, capture_t)
        if self.policy == "converge" and self.has_keys:
            return self._decide_converge(image, video_t, jumped, key, corrupt)
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
            if self._stalled(verdict.frozen, video_t):
                return Decision(False, video_t, reason="frozen")
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

    def _stalled(self, frozen: bool, video_t: float) -> bool:
        """A frozen picture for FROZEN_S or longer: the camera stalled; skip it and re-warm after."""
        if not frozen:
            self._frozen_since = None
            return False
        self._frozen_since = video_t if self._frozen_since is None else self._frozen_since
        if video_t - self._frozen_since < FROZEN_S:
            return False
        self.health.skipped_frozen += 1
        self._pending = True
        return True

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

    # --- converge policy -------------------------------------------------------------------------------

    def _decide_converge(self, image: np.ndarray, video_t: float, jumped: bool, key: bool,
                         corrupt: bool) -> Decision:
        h = self.health
        views = small_views(image)
        small = views[0].mean(axis=2)
        prev, self._prev_small = self._prev_small, small
        if self._need_key and not key:
            h.skipped_key_wait += 1
            self._pending = True
            return Decision(False, video_t, reason="key-wait")
        abrupt = False
        if self.quality is not None:
            verdict = self.quality.check(image, video_t, suspect=corrupt or self._pending or self._converging,
                                         views=views)
            if verdict.damaged:
                setattr(h, f"skipped_{verdict.reason}", getattr(h, f"skipped_{verdict.reason}") + 1)
                self._pending = self._converging = True
                self._good_keys = 0
                return Decision(False, video_t, reason=verdict.reason)
            if self._stalled(verdict.frozen and not key, video_t):
                return Decision(False, video_t, reason="frozen")
            abrupt = verdict.abrupt and not self._need_key and not self._converging
            h.abrupt_changes += int(abrupt)
        h.accepted_corrupt_keys += int(key and corrupt)
        if key:
            first = self._need_key
            self._need_key = self._severe = False
            share = 1.0 if first or prev is None or prev.shape != small.shape else repair_share(small, prev)
            h.max_repair_share = max(h.max_repair_share, share if not first else 0.0)
            if share <= REPAIR_MAX:
                self._good_keys += 1
            else:
                h.large_repairs += int(not first)
                self._good_keys, self._converging = 0, True
            if self._converging and self._good_keys >= CONVERGE_KEYS:
                self._converging, self._mark_until = False, video_t + CONVERGE_MARK_S
                h.converged += 1
        self._tainted = self._converging
        # The model learnt from damaged pictures until now: re-warm it on the converged ones.
        rewarm = not self._converging and video_t <= self._mark_until
        return self._deliver(video_t, jumped or rewarm, abrupt)


def repair_share(small: np.ndarray, prev: np.ndarray) -> float:
    """Share of the (grey, small) picture a key frame changed by more than REPAIR_LEVEL from the frame
    before it: on a whole stream the motion of one frame period, after damage the patches it repaired."""
    return float((np.abs(small - prev) > REPAIR_LEVEL).mean())
