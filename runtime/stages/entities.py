"""The entity stage: proposals at event onset, tracking every frame, measured motion per entity.

Why here and not in the tracker: roles, entity lifetimes and the measured motion (approach speed,
time to contact, circling, crossing, distance class) are the same whatever tracker runs, so SAM2
backends only implement `ego360.core.interfaces.Tracker`. Services come through the constructor:
the tracker, the motion analysis it shares with the trigger (one `MotionAnalyzer`, named in the
trigger's, the tracker's and this stage's constructors) and, in grounding mode, the VLM feed.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ego360.core.config import Config
from ego360.core.geometry import Mounting, row_pitch, wrap_deg
from ego360.core.interfaces import Tracker
from ego360.core.packets import (
    Box,
    Detection,
    EntityMotion,
    EntityUpdate,
    FramePacket,
    Seed,
    Track,
    TriggerResult,
    Work,
)
from ego360.models.blobs import MotionFrame
from ego360.models.detectors.association import VictimFinder, detected_kind
from ego360.models.detectors.service import DetectionService
from ego360.models.kinematics import History, distance_class
from ego360.models.motion import MotionAnalyzer
from ego360.models.proposals import propose
from ego360.runtime.services.grounding_feed import GroundingFeed


class EntityStage:
    """`process(work) -> work` with the frame's `EntityUpdate`; owns entity ids, roles and lifetimes.

    In grounding mode the VLM's boxes (asked for at onset, answered later) seed the tracker too.
    """

    name = "tracker"

    def __init__(self, cfg: Config, mounting: Mounting, tracker: Tracker, motion: MotionAnalyzer,
                 grounding: GroundingFeed | None = None, detections: DetectionService | None = None):
        self.cfg = cfg
        self.mounting = mounting
        self.tracker = tracker
        self.motion = motion
        self.grounding = grounding
        self._next_id = 1
        self._hist: dict[int, History] = {}
        self._travel: dict[int, float] = {}
        self._lost: dict[int, int] = {}
        self._offset_t: float | None = None
        self._event_id: int | None = None
        self._last_tracks: tuple[Track, ...] = ()
        self.detections = detections  # trained detector on cube faces (off the frame loop), None = motion only
        self._detected: tuple[Detection, ...] = ()
        self._victims = VictimFinder()
        self._seeded: dict[int, Detection] = {}  # entities found by the detector → their latest detection

    @classmethod
    def from_config(cls, cfg: Config, mounting: Mounting | None = None,
                    motion: MotionAnalyzer | None = None) -> EntityStage:
        """The stage with the configured tracker and (unless given) its own motion analysis."""
        from ego360.models.registry import create_tracker

        mounting = mounting or Mounting(cfg.bearings.yaw_offset_deg)
        motion = motion or MotionAnalyzer.configured(cfg.trigger, mounting)
        return cls(cfg, mounting, create_tracker(cfg, mounting, motion), motion,
                   detections=detection_service(cfg, mounting))

    def process(self, work: Work) -> Work:
        if self.grounding is not None:
            if work.trigger.state == "onset":
                self.grounding.on_onset(work.packet.image, work.trigger.bearing_deg, work.packet.frame_index)
            seeds = self.grounding.poll()
            if seeds:
                self.grounding.stats.seeded += len(self.seed(work.packet, seeds))
        return dataclasses.replace(work, entities=self.update(work.packet, work.trigger))

    def update(self, packet: FramePacket, trig: TriggerResult) -> EntityUpdate:
        """One frame: start entities at onset, track every frame, expire, measure motion."""
        mf = self.motion.analyze(packet)
        new: list[int] = []
        if trig.state == "onset" or (trig.state == "ongoing" and not self.tracker.entity_ids()):
            new = self._start(packet, mf, trig)
        if trig.state in ("onset", "ongoing"):
            self._offset_t = None
        elif trig.state == "offset" or (self._offset_t is None and self.tracker.entity_ids() and trig.state == "idle"):
            self._offset_t = packet.video_t if self._offset_t is None else self._offset_t
        tracks = tuple(self.tracker.track(packet)) if self.tracker.entity_ids() else ()
        lost = self._expire(packet, tracks)
        tracks = tuple(self._detector_mask(t) for t in tracks if t.entity_id not in lost)
        self._last_tracks = tracks
        motion = tuple(self._measure(t, packet, mf.ego_yaw_deg, mf.wearer_xz) for t in tracks if t.mask.any())
        if self.detections is not None:
            new += self._use_detections(packet, mf, trig, tracks, motion)
        return EntityUpdate(packet.frame_index, tracks, tuple(new), tuple(lost), motion, self._event_id)

    def _start(self, packet: FramePacket, mf: MotionFrame, trig: TriggerResult) -> list[int]:
        """Proposals → tracker.add with roles, skipping movers that are already tracked."""
        self._event_id = trig.event_id
        tracked = self.tracker.entity_ids()
        busy = self.tracker.occupancy(*mf.gray.shape) if tracked else np.zeros(mf.gray.shape, bool)
        room = max(0, self.cfg.tracker.max_entities - len(tracked))
        perp = self._tracked_perpetrator(trig.bearing_deg)
        new = []
        for prop in propose(mf, self.mounting, trig.bearing_deg, self.cfg.tracker.max_entities, self.motion.refine):
            if len(new) >= room or (busy & prop.work_mask).sum() > 0.3 * prop.work_mask.sum():
                continue
            if perp is not None and prop.role == "perpetrator":
                # A re-onset next to the perpetrator we follow is the same person acting again
                # (stopping at a victim, leaving): re-seed that entity instead of naming a second one.
                self.tracker.add(packet, perp, prop.mask, "perpetrator", prop.kind)  # type: ignore[arg-type]
                continue
            eid, self._next_id = self._next_id, self._next_id + 1
            seen = detected_kind(prop.box, self._detected, packet.width)
            self.tracker.add(packet, eid, prop.mask, prop.role, seen[0] if seen else prop.kind)  # type: ignore[arg-type]
            new.append(eid)
        return new

    def _use_detections(self, packet: FramePacket, mf: MotionFrame, trig: TriggerResult, tracks: tuple[Track, ...],
                        motion: tuple[EntityMotion, ...]) -> list[int]:
        """Feed the detector the faces where things happen, take its newest answer, and name the person
        standing still that the perpetrator is next to (or heading for) as the victim."""
        off = self.mounting.yaw_offset_deg
        self.detections.maybe_submit(packet, [b.yaw_deg for b in mf.blobs] + [t.bearing_deg + off for t in tracks])
        res = self.detections.poll()
        if res is not None:
            self._detected = res.detections
            self._victims.observe(res.video_t, res.detections,
                                  [t for t in tracks if t.mask.any() and t.entity_id not in self._seeded])
            for eid, old in self._seeded.items():
                self._seeded[eid] = self._victims.same_person(old, res.detections) or old
        perp = next((t for t in tracks if t.role == "perpetrator" and t.mask.any()), None)
        if perp is None or trig.state not in ("onset", "ongoing"):
            return []
        m = next((x for x in motion if x.entity_id == perp.entity_id), None)
        if m is not None:
            self._victims.perpetrator_at(packet.video_t, perp.bearing_deg, m.distance_m)
        if any(t.role == "victim" for t in tracks) or len(self.tracker.entity_ids()) >= self.cfg.tracker.max_entities:
            return []
        self._victims.forget_covered([t.box for t in tracks if t.entity_id not in self._seeded], packet.width)
        victim = self._victims.find(packet.video_t)
        if victim is None:
            return []
        mask = victim.mask if victim.mask is not None and victim.mask.any() else _box_mask(victim.box, *mf.full_shape)
        eid, self._next_id = self._next_id, self._next_id + 1
        self.tracker.add(packet, eid, mask, "victim", "person")
        self._seeded[eid] = victim
        return [eid]

    def _detector_mask(self, t: Track) -> Track:
        """A person the detector found standing still keeps the segmenter's mask: the motion tracker
        cannot cut a mask out of a background that has learnt the person."""
        d = self._seeded.get(t.entity_id)
        if d is None or d.mask is None or not d.mask.any():
            return t
        return dataclasses.replace(t, mask=d.mask, box=d.box, bearing_deg=d.bearing_deg, pitch_deg=d.pitch_deg)

    def seed(self, packet: FramePacket, seeds: list[Seed]) -> list[int]:
        """Grounding mode: VLM boxes (equirect, with the VLM's role) become tracked entities.

        A box over an entity we already follow gives that entity the VLM's role (same id: the wearer
        keeps hearing about one person); otherwise a new entity starts from the box, which the tracker
        then snaps to what moves inside it. Returns the ids seeded.
        """
        h, w = packet.height, packet.width
        out: list[int] = []
        for s in seeds:
            role = s.role if s.role in ("perpetrator", "victim", "target") else "related"
            box = _box_mask(s.box, h, w)
            if not box.any():
                continue
            hit = max(self._last_tracks, key=lambda t: int((t.mask & box).sum()), default=None)
            if hit is not None and (hit.mask & box).sum() > 0.3 * max(1, int(hit.mask.sum())):
                self.tracker.add(packet, hit.entity_id, hit.mask, role, hit.kind)  # type: ignore[arg-type]
                out.append(hit.entity_id)
            elif len(self.tracker.entity_ids()) < self.cfg.tracker.max_entities:
                eid, self._next_id = self._next_id, self._next_id + 1
                self.tracker.add(packet, eid, box, role, "person")  # type: ignore[arg-type]
                out.append(eid)
        return out

    def _tracked_perpetrator(self, bearing_deg: float | None) -> int | None:
        """The perpetrator already tracked near the cue's bearing (within 30°), if any."""
        ids = set(self.tracker.entity_ids())
        for t in self._last_tracks:
            if t.entity_id in ids and t.role == "perpetrator" and (
                    bearing_deg is None or abs(float(wrap_deg(t.bearing_deg - bearing_deg))) < 30.0):
                return t.entity_id
        return None

    def _expire(self, packet: FramePacket, tracks: tuple[Track, ...]) -> list[int]:
        """Drop everything some seconds after the event's offset, and entities lost for a while."""
        gone = []
        for t in tracks:
            self._lost[t.entity_id] = 0 if t.mask.any() else self._lost.get(t.entity_id, 0) + 1
            if self._lost[t.entity_id] > 15:
                gone.append(t.entity_id)
        if self._offset_t is not None and packet.video_t - self._offset_t >= self.cfg.tracker.drop_after_s:
            gone = sorted(set(gone) | {t.entity_id for t in tracks})
            self._offset_t = None
        if gone and not set(self.tracker.entity_ids()) - set(gone):
            self._victims.reset()
        for eid in gone:
            self.tracker.remove(eid)
            for d in (self._hist, self._travel, self._lost, self._seeded):
                d.pop(eid, None)
        return gone

    def _measure(self, t: Track, packet: FramePacket, ego_yaw: float,
                 wearer_xz: tuple[float, float] = (0.0, 0.0)) -> EntityMotion:
        h = packet.height
        bottom = float(row_pitch(t.box.y1 - 1, h) - 90.0 / h)
        top = float(row_pitch(t.box.y0, h) + 90.0 / h)
        d = self.cfg.trigger.camera_height_m / np.tan(np.radians(-bottom)) if bottom < -2.0 else float("inf")
        hist = self._hist.setdefault(t.entity_id, History())
        world = t.bearing_deg + ego_yaw
        if hist.yaw:
            self._travel[t.entity_id] = self._travel.get(t.entity_id, 0.0) + float(wrap_deg(world - hist.yaw[-1]))
        hist.push(packet.video_t, world, d, top - bottom, wearer_xz=wearer_xz)  # the wearer's walk: world velocity
        k = hist.kinematics()
        circling = abs(self._travel.get(t.entity_id, 0.0)) > 60.0 and k.distance_m < 4.0 and abs(k.yaw_rate_dps) > 20.0
        return EntityMotion(
            t.entity_id, k.distance_m, distance_class(k.distance_m), k.approach_mps, k.growth_per_s, k.ttc_s,
            k.yaw_rate_dps, k.approach_mps > 0.5, k.approach_mps < -0.5, circling,
            (not circling) and k.tangential_mps > 1.2, k.own_speed_mps, k.wearer_speed_mps,
        )


def _box_mask(box: Box, h: int, w: int) -> np.ndarray:
    """Equirect bool mask of a box whose x1 may run past W across the ±180° seam."""
    m = np.zeros((h, w), bool)
    y0, y1 = max(0, int(box.y0)), min(h, int(np.ceil(box.y1)))
    x0, x1 = int(box.x0), int(np.ceil(box.x1))
    if y1 <= y0 or x1 <= x0:
        return m
    cols = np.arange(x0, x1) % w
    m[y0:y1, cols] = True
    return m


def detection_service(cfg: Config, mounting: Mounting, blocking: bool = False) -> DetectionService | None:
    """The configured cube-face detector as a service, with the shipped person segmenter when
    `detector.segmenter = selfie` (falling back to box masks for user ONNX detectors without it)."""
    from ego360.core.errors import ModelError
    from ego360.models.registry import create_detector

    d = cfg.detector
    detector = create_detector(d)
    if detector is None:
        return None
    segmenter = None
    if d.segmenter == "selfie":
        from ego360.models.detectors.segmenter import SelfieSegmenter

        try:
            segmenter = SelfieSegmenter(d.model_dir, d.threads)
        except ModelError:
            if d.backend == "blazepose":
                raise
    return DetectionService(detector, d.rate_hz, d.deadline_s, face_w=d.face_size, mounting=mounting,
                            camera_height_m=cfg.trigger.camera_height_m, segmenter=segmenter, faces=d.faces,
                            blocking=blocking)
