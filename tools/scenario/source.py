"""A frame source that renders a library scenario in memory: the pipeline can be tested end to
end against exact ground truth without writing or decoding a video file."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from ego360.core.packets import FramePacket, SourceInfo
from ego360.tools.scenario.gt import GroundTruth, GTFrame
from ego360.tools.scenario.library import build_scene


class ScenarioSource:
    """`ScenarioSource("stealing", seed=0, width=960, height=480)`; other kwargs are `build_scene`'s.

    The source-side options `runtime.sources.open_source` offers are honoured: `max_width` (or
    `cfg.max_width`) caps the rendered width like a camera downscale, `realtime` paces frames to the
    clip's fps, `live` only sets `info.live`. Iterating renders frames 0..N-1 in order; `.gt` holds
    the truth of the frames rendered so far (header complete from the start, `frames` growing), so a
    consumer may stop early and still score what it saw.
    """

    def __init__(self, name: str, *, realtime: bool = False, max_width: int | None = None, cfg: Any = None,
                 live: bool = False, **scene_kwargs):
        cap = max_width if max_width is not None else getattr(cfg, "max_width", None)
        width = int(scene_kwargs.get("width", 1920))
        if cap and width > cap:
            width = max(32, int(cap) // 4 * 4)  # equirect 2:1 with an even height
            scene_kwargs["width"], scene_kwargs["height"] = width, width // 2
        self.scene = build_scene(name, **scene_kwargs)
        s = self.scene
        self.realtime = bool(realtime)
        self.info = SourceInfo(name=f"scenario:{name}", width=s.width, height=s.height, fps=s.fps,
                               num_frames=s.num_frames, live=bool(live), paced=self.realtime)
        self._header = s.gt_header()
        self._frames: list[GTFrame] = []
        self._closed = False

    @property
    def gt(self) -> GroundTruth:
        return self._header.with_frames(tuple(self._frames))

    def __iter__(self) -> Iterator[FramePacket]:
        start = time.monotonic()
        for i in range(self.scene.num_frames):
            if self._closed:
                return
            if self.realtime:
                delay = start + i / self.scene.fps - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            image, records = self.scene.render_frame(i)
            if i == len(self._frames):
                self._frames.append(GTFrame(i, tuple(records), self.scene.pose_gt(i)))
            yield FramePacket(frame_index=i, video_t=i / self.scene.fps, capture_ns=time.monotonic_ns(), image=image)

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> ScenarioSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
