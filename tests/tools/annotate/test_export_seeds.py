"""gt.json → prompt text → parsed boxes is exact, and a prompt box across the ±180° seam cuts one mask."""

from __future__ import annotations

import numpy as np

from ego360.core.rle import encode_rle
from ego360.tools.annotate.build import make_plans
from ego360.tools.annotate.export import prompts_from_gt
from ego360.tools.annotate.prompts import FrameMap, format_prompts, parse_prompts_text
from ego360.tools.annotate.seeds import FramePrompt, box_mask, seed_mask
from ego360.tools.scenario.gt import EntityFrameGT, GroundTruth, GTEntity, GTEvent, GTFrame

H, W, FPS, N = 240, 480, 10.0, 31


def _gt() -> GroundTruth:
    """An actor sliding across the seam and a still victim; boxes are pixel-exact integers."""
    frames = []
    for f in range(N):
        recs = []
        x0 = (440 + 3 * f) % W
        m = box_mask((H, W), (x0, 100, x0 + 20, 160))
        recs.append(EntityFrameGT(1, encode_rle(m), (x0, 100, x0 + 20, 160), 170.0, 0.0, 2.0, int(m.sum())))
        if f != 20:  # hidden on frame 20 (a sampled frame: it must come back as missing)
            v = box_mask((H, W), (200, 90, 217, 171))
            recs.append(EntityFrameGT(2, encode_rle(v), (200, 90, 217, 171), -20.0, 0.0, 3.0, int(v.sum())))
        frames.append(GTFrame(f, tuple(recs)))
    ents = (GTEntity(1, "person", "perpetrator", "red top", "runs"), GTEntity(2, "person", "victim", "blue", "waits"))
    return GroundTruth("t", "Stealing", FPS, W, H, N, 0, 0.0, 0.0, (GTEvent(0, "Stealing", 5, 25, 1, 2, "c"),),
                       ents, tuple(frames))


def test_export_parse_round_trip_is_pixel_exact():
    gt = _gt()
    lines, inst = prompts_from_gt(gt, every_s=1.0, prompt_fps=1.0)
    text = format_prompts(lines)
    assert text.splitlines()[0] == "0, actor0, bbox, 0.916667, 0.416667, 0.041667, 0.250000"
    assert format_prompts(parse_prompts_text(text)) == text
    assert inst.instances["subject0"].missing_frames == (2,)
    plans = {p.name: p for p in make_plans(parse_prompts_text(text), inst, FrameMap(FPS, 1.0), N, W, H)}
    assert sorted(plans) == ["actor0", "subject0"]
    for name, eid in (("actor0", 1), ("subject0", 2)):
        for f, fp in plans[name].prompts.items():
            want = gt.entity_frame(f, eid).box
            assert tuple(int(round(v)) for v in fp.boxes[0]) == want
    # frame 20 (second 2) is hidden for the victim: the whole second around it is not annotated
    assert not plans["subject0"].alive(20) and plans["subject0"].alive(14) and plans["subject0"].alive(25)
    assert plans["actor0"].role == "perpetrator" and plans["subject0"].role == "victim"


def test_seed_across_the_seam_is_one_silhouette():
    rng = np.random.default_rng(0)
    img = (rng.integers(90, 110, (H, W, 3))).astype(np.uint8)
    truth = np.zeros((H, W), bool)
    yy, xx = np.mgrid[:H, :W]
    for cx in (W - 6, -6):  # an ellipse centred 6 px left of the seam, wrapping to the right edge
        truth |= ((xx - cx) / 14.0) ** 2 + ((yy - 120) / 40.0) ** 2 <= 1
    img[truth] = (200, 30, 30)
    mask = seed_mask(img, FramePrompt(boxes=((W - 22, 78, W + 10, 162),)))
    iou = (mask & truth).sum() / (mask | truth).sum()
    assert iou > 0.85
    assert mask[:, :10].any() and mask[:, -10:].any()
