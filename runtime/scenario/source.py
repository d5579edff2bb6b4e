"""A frame source that renders a library scenario in memory: the pipeline can be tested end to
end against exact ground truth without writing or decoding a video file."""

from __future__ import annotations

import time
from collections.abc import Iterator

from runtime.packets import FramePacket, SourceInfo
from runtime.scenario.gt import GroundTruth, GTFrame
from runtime.scenario.library import build_scene


class ScenarioSource:
    """`ScenarioSource("stealing", seed=0, width=960, height=480)`; kwargs are `build_scene`'s.

    Iterating renders frames 0..N-1 in order; `.gt` holds the truth of the frames rendered so far
    (header complete from the start, `frames` growing), so a consumer may stop early.
    """

    def __init__(self, name: str, **scene_kwargs):
        self.scene = build_scene(name, **scene_kwargs)
        s = self.scene
        self.info = SourceInfo(name=f"scenario:{name}", width=s.width, height=s.height, fps=s.fps,
                               num_frames=s.num_frames, live=False)
        self._header = s.gt_header()
        self._frames: list[GTFrame] = []
        self._closed = False

    @property
    def gt(self) -> GroundTruth:
        return self._header.with_frames(tuple(self._frames))

    def __iter__(self) -> Iterator[FramePacket]:
        for i in range(self.scene.num_frames):
            if self._closed:
                return
            image, records = self.scene.render_frame(i)
            if i == len(self._frames):
                self._frames.append(GTFrame(i, tuple(records)))
            yield FramePacket(frame_index=i, video_t=i / self.scene.fps, capture_ns=time.monotonic_ns(), image=image)

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> ScenarioSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
