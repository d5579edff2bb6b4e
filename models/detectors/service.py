"""The detection service: cube-face detection off the frame loop, at a configurable rate.

Why a service with its own thread: one detection run (four 224² faces) costs tens of milliseconds on
a CPU, more than a frame's budget, and an alert must never wait for it. The frame loop only calls
`maybe_submit` (a reference to the frame, no copy of work) and `poll` (the newest result, if any);
`ego360.core.deadline.DeadlineWorker` runs the job and drops it when it comes back later than
`detector.deadline_s`. Faces: the ones where motion or tracks are, plus one more side face in turn,
so a person standing still anywhere is found within four runs.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass

import numpy as np

from ego360.core.deadline import DeadlineWorker
from ego360.core.geometry import Mounting
from ego360.core.packets import Detection, FramePacket
from ego360.core.projection import FACE_NAMES
from ego360.models.detectors.base import ImageDetector
from ego360.models.detectors.cube import SIDE_FACES, CubeFaceDetector, ground_distance


@dataclass(frozen=True, eq=False)
class DetectionResult:
    frame_index: int
    video_t: float
    detections: tuple[Detection, ...]
    faces: str


class DetectionService:
    """`maybe_submit(packet, camera_yaws)` on every frame, `poll()` for the newest result."""

    def __init__(self, detector: ImageDetector, rate_hz: float = 3.0, deadline_s: float = 1.0, *,
                 face_w: int = 224, mounting: Mounting | None = None, camera_height_m: float = 1.6,
                 segmenter: object | None = None, faces: str = "active", blocking: bool = False):
        self.detector = detector
        self.face_w, self.mounting, self.camera_height_m = int(face_w), mounting or Mounting(), camera_height_m
        self.cube: CubeFaceDetector | None = None  # built for the first frame's size
        self.period_s = 1.0 / max(1e-6, float(rate_hz))
        self.segmenter = segmenter
        self.faces_mode = faces
        self.blocking = bool(blocking)  # run in the caller's thread (deterministic tests and evaluations)
        self._worker: DeadlineWorker[str, DetectionResult] = DeadlineWorker(deadline_s, 1, "ego360-detector")
        self._last_t: float | None = None
        self._turn = 0
        self._lock = threading.Lock()
        self._ready: list[DetectionResult] = []
        self._ms: list[float] = []  # wall time of each run (in the worker thread)
        self._faces_run = 0

    # ---- frame loop side
    def maybe_submit(self, packet: FramePacket, camera_yaws: list[float] | tuple[float, ...] = ()) -> bool:
        """Submit this frame when a period has passed since the last submission; never blocks (unless
        the service was built blocking)."""
        if self._last_t is not None and packet.video_t - self._last_t < self.period_s - 1e-6:
            return False
        self._last_t = packet.video_t
        if self.cube is None or (self.cube.H, self.cube.W) != (packet.height, packet.width):
            self.cube = CubeFaceDetector(self.detector, (packet.height, packet.width), self.face_w, self.mounting,
                                         self.camera_height_m)
        faces = self._faces(camera_yaws)
        image, cube = packet.image, self.cube
        job = lambda: self._run(cube, image, packet.frame_index, packet.video_t, faces)  # noqa: E731
        if self.blocking:
            result = job()
            with self._lock:
                self._ready.append(result)
        else:
            self._worker.submit("frame", job)
        return True

    def poll(self) -> DetectionResult | None:
        """The newest result since the last poll (None when nothing new arrived)."""
        with self._lock:
            ready, self._ready = self._ready, []
        ready += [r for _k, r in self._worker.poll()]
        return max(ready, key=lambda r: r.frame_index) if ready else None

    def _faces(self, camera_yaws: list[float] | tuple[float, ...]) -> tuple[int, ...]:
        if self.faces_mode == "all" or not camera_yaws:
            return SIDE_FACES
        active = set(self.cube.faces_for(list(camera_yaws)))  # type: ignore[union-attr]
        rest = [f for f in SIDE_FACES if f not in active]
        if rest:
            active.add(rest[self._turn % len(rest)])
            self._turn += 1
        return tuple(sorted(active))

    # ---- worker side
    def _run(self, cube: CubeFaceDetector, image: np.ndarray, frame_index: int, video_t: float,
             faces: tuple[int, ...]) -> DetectionResult:
        t0 = time.perf_counter()
        dets = cube.detect(image, frame_index, faces)
        if self.segmenter is not None:
            dets = tuple(self._with_mask(image, d) if d.kind == "person" else d for d in dets)
        with self._lock:
            self._ms.append(1000.0 * (time.perf_counter() - t0))
            self._faces_run += len(faces)
        return DetectionResult(frame_index, video_t, dets, "".join(FACE_NAMES[f] for f in faces))

    def _with_mask(self, image: np.ndarray, d: Detection) -> Detection:
        """The person's mask, and the distance from its lowest row (a better foot point than the
        detector's body circle when the person is cut by the frame or oddly proportioned)."""
        mask = self.segmenter.person_mask(image, d.box)  # type: ignore[attr-defined]
        rows = np.flatnonzero(mask.any(axis=1))
        if rows.size == 0:
            return d
        H = mask.shape[0]
        cols = np.flatnonzero(mask[rows[-1]])
        yaw = (float(cols.mean()) + 0.5) / mask.shape[1] * 360.0 - 180.0
        _, foot = self.mounting.camera_to_wearer(yaw, 90.0 - (rows[-1] + 1.0) / H * 180.0)
        return dataclasses.replace(d, mask=mask, foot_pitch_deg=float(foot),
                                   distance_m=ground_distance(float(foot), self.camera_height_m))

    # ---- reporting
    def drain(self, timeout_s: float = 5.0) -> bool:
        return self._worker.drain(timeout_s)

    def stats(self) -> dict[str, float | int]:
        """What the run summary and `ego360 bench replay` report for the detector."""
        c = self._worker.counts()
        with self._lock:
            ms = list(self._ms)
            faces = self._faces_run
        arr = np.asarray(ms) if ms else np.zeros(1)
        return {"backend": getattr(self.detector, "name", "?"), "runs": len(ms), "faces": faces,
                "ms_per_run_p50": round(float(np.percentile(arr, 50)), 2),
                "ms_per_run_p95": round(float(np.percentile(arr, 95)), 2),
                "ms_total": round(float(arr.sum()) if ms else 0.0, 1),
                "late": c.late, "failed": c.failed, "replaced": c.replaced}

    def close(self) -> None:
        self._worker.close()
