"""SAM 2 as a frame-by-frame tracker with bounded memory (PyTorch backend).

Why not `SAM2VideoPredictor`: it needs the whole video up front (`init_state(video)`) and keeps every
frame's output forever. This class drives the same `SAM2Base` methods in the same order, so on the
same frames and prompts its logits equal `propagate_in_video` bit for bit, but it keeps only what the
next frame can read: the conditioning frames, the last `num_maskmem - 1` memories and the last
`max_obj_ptrs_in_encoder - 1` object pointers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from ego360.models.sam2.device import LazyMask, Uploader, autocast, check_image, fetch, normalise, preprocess_pil

_ENDLESS = 1 << 62  # stands for `num_frames` on a stream: never limits the pointer window


class MaskOut(NamedTuple):
    """Mask logits and the thresholded mask of one object, at the input image's resolution (the tracker
    itself returns `device.LazyMask`, which has the same attributes and stays on the device until read)."""

    logits: np.ndarray  # float32 H×W
    mask: np.ndarray  # bool H×W


@dataclass
class _Obj:
    """Per-object memory bank, in the layout `SAM2Base.track_step` reads."""

    output_dict: dict = field(default_factory=lambda: {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}})
    points: dict | None = None  # point inputs of the pending prompt (for repeated clicks on one frame)
    pending: tuple[int, bool] | None = None  # (frame, is_cond) of a prompt whose memory is not encoded yet
    tracked: set[int] = field(default_factory=set)


class SAM2StreamTracker:
    """Track several objects on an endless stream; `add_object` at any frame, `track` each new frame."""

    def __init__(self, model: Any, non_overlap_masks: bool = False, max_cond_frames: int | None = None,
                 dtype: str = "fp32") -> None:
        self.model = model
        self.device = next(model.parameters()).device
        self.dtype = dtype
        self.non_overlap_masks = non_overlap_masks
        self.max_cond_frames = max_cond_frames
        self.frame_idx = -1
        self._objs: dict[int, _Obj] = {}
        self._feat_cache: tuple[int, Any] | None = None
        self._pos_enc: list | None = None  # maskmem_pos_enc is the same for every frame: one copy
        self._upload = Uploader(self.device)
        autocast(self.device, dtype)  # an unknown dtype fails here, not on the first frame

    # ----------------------------------------------------------------- public API
    @property
    def object_ids(self) -> list[int]:
        return list(self._objs)

    def add_object(
        self,
        frame_idx: int,
        image: np.ndarray,
        obj_id: int,
        box: tuple[float, float, float, float] | None = None,
        points: np.ndarray | None = None,
        labels: np.ndarray | None = None,
        mask: np.ndarray | None = None,
    ) -> MaskOut:
        """Prompt `obj_id` on `frame_idx` (pixel coordinates of `image`); returns its mask there.

        A frame the object was not tracked on becomes a conditioning frame (as upstream); a frame it was
        tracked on gets a correction. Repeated point prompts on the same frame refine each other.
        """
        import torch

        if frame_idx < self.frame_idx:
            raise ValueError(f"frame {frame_idx} is in the past (stream is at frame {self.frame_idx})")
        if (box is None and points is None) == (mask is None):
            raise ValueError("give exactly one of box/points or mask")
        with torch.inference_mode(), autocast(self.device, self.dtype):
            self._finalize_pending(except_frame=frame_idx)
            self.frame_idx = frame_idx
            obj = self._objs.setdefault(obj_id, _Obj())
            feats = self._features(frame_idx, image)
            is_init = frame_idx not in obj.tracked
            is_cond = is_init or self.model.add_all_frames_to_correct_as_cond
            key = "cond_frame_outputs" if is_cond else "non_cond_frame_outputs"
            if mask is not None:
                out = self._prompt_mask(obj, feats, frame_idx, is_init, mask)
            else:
                out = self._prompt_points(obj, feats, frame_idx, is_init, key, image.shape[:2], box, points, labels)
            obj.output_dict[key][frame_idx] = out
            obj.pending = (frame_idx, is_cond)
            return self._to_image_res([out["pred_masks"]], image.shape[:2])[0]

    def track(self, image: np.ndarray, frame_idx: int | None = None) -> dict[int, MaskOut]:
        """Advance every object to the next frame (or `frame_idx`); objects prompted on it keep their prompt."""
        import torch

        frame_idx = self.frame_idx + 1 if frame_idx is None else frame_idx
        if frame_idx < self.frame_idx:
            raise ValueError(f"frame {frame_idx} is in the past (stream is at frame {self.frame_idx})")
        with torch.inference_mode(), autocast(self.device, self.dtype):
            self._finalize_pending(except_frame=None)
            self.frame_idx = frame_idx
            if not self._objs:
                return {}
            feats = self._features(frame_idx, image)
            low_res = [self._track_obj(obj, feats, frame_idx) for obj in self._objs.values()]
            for obj in self._objs.values():
                self._evict(obj, frame_idx)
            return dict(zip(self._objs, self._to_image_res(low_res, image.shape[:2]), strict=True))

    def set_features(self, frame_idx: int, feats: tuple) -> None:
        """Hand in this frame's backbone features computed elsewhere (`track_streams` batches many views)."""
        self._feat_cache = (frame_idx, feats)

    def remove_object(self, obj_id: int) -> None:
        """Forget `obj_id` and its memory (unknown ids are ignored, as upstream's non-strict removal)."""
        self._objs.pop(obj_id, None)

    def state_size(self) -> dict[str, int]:
        """Counts of everything kept per stream (for the bounded-memory check)."""
        n_bytes = n_frames = 0
        for obj in self._objs.values():
            for outs in obj.output_dict.values():
                n_frames += len(outs)
                for out in outs.values():
                    n_bytes += sum(v.numel() * v.element_size() for k, v in out.items() if _is_own_tensor(k, v))
        cached = 0 if self._feat_cache is None else 1
        return {"objects": len(self._objs), "frames": n_frames, "bytes": n_bytes, "cached_features": cached}

    # ----------------------------------------------------------------- steps
    def _track_obj(self, obj: _Obj, feats: tuple, frame_idx: int) -> Any:
        """One object on one frame: reuse a prompt given on this frame, else track from memory."""
        cond = obj.output_dict["cond_frame_outputs"].get(frame_idx)
        if cond is not None:
            obj.tracked.add(frame_idx)
            return cond["pred_masks"]
        out = self._step(obj.output_dict, feats, frame_idx, False, None, None, run_mem_encoder=True)
        obj.output_dict["non_cond_frame_outputs"][frame_idx] = out
        obj.tracked.add(frame_idx)
        return out["pred_masks"]

    def _step(self, output_dict, feats, frame_idx, is_init, point_inputs, mask_inputs, run_mem_encoder, prev=None):
        """`SAM2Base.track_step` on one object, compacted like `_run_single_frame_inference`."""
        import torch

        _, _, vision_feats, vision_pos, sizes = feats
        out = self.model.track_step(
            frame_idx=frame_idx, is_init_cond_frame=is_init, current_vision_feats=vision_feats,
            current_vision_pos_embeds=vision_pos, feat_sizes=sizes, point_inputs=point_inputs,
            mask_inputs=mask_inputs, output_dict=output_dict, num_frames=_ENDLESS,
            track_in_reverse=False, run_mem_encoder=run_mem_encoder, prev_sam_mask_logits=prev,
        )
        mem = out["maskmem_features"]
        return {
            "maskmem_features": None if mem is None else mem.to(torch.bfloat16),
            "maskmem_pos_enc": self._shared_pos_enc(out["maskmem_pos_enc"]),
            "pred_masks": out["pred_masks"],
            "obj_ptr": out["obj_ptr"],
            "object_score_logits": out["object_score_logits"],
        }

    def _prompt_points(self, obj, feats, frame_idx, is_init, key, hw, box, points, labels) -> dict:
        import torch
        from sam2.utils.misc import concat_points

        pts = torch.zeros(0, 2) if points is None else torch.as_tensor(np.asarray(points), dtype=torch.float32)
        lab = torch.zeros(0, dtype=torch.int32) if labels is None else torch.as_tensor(np.asarray(labels)).int()
        if points is not None and labels is None:
            lab = torch.ones(len(pts), dtype=torch.int32)
        pts, lab = pts.reshape(1, -1, 2), lab.reshape(1, -1)
        if box is not None:
            pts = torch.cat([torch.tensor(box, dtype=torch.float32).reshape(1, 2, 2), pts], dim=1)
            lab = torch.cat([torch.tensor([[2, 3]], dtype=torch.int32), lab], dim=1)
            obj.points = None  # a box restarts the prompt, as upstream (clear_old_points)
        pts = (pts / torch.tensor([hw[1], hw[0]]) * self.model.image_size).to(self.device)
        lab = lab.to(self.device)
        pending_here = obj.pending is not None and obj.pending[0] == frame_idx
        obj.points = concat_points(obj.points if pending_here and box is None else None, pts, lab)
        prev_out = obj.output_dict[key].get(frame_idx)
        if prev_out is None:
            other = "non_cond_frame_outputs" if key == "cond_frame_outputs" else "cond_frame_outputs"
            prev_out = obj.output_dict[other].get(frame_idx)
        has_prev = prev_out is not None and prev_out["pred_masks"] is not None
        prev = torch.clamp(prev_out["pred_masks"], -32.0, 32.0) if has_prev else None
        return self._step(obj.output_dict, feats, frame_idx, is_init, obj.points, None, False, prev=prev)

    def _prompt_mask(self, obj, feats, frame_idx, is_init, mask) -> dict:
        import torch
        import torch.nn.functional as F

        size = self.model.image_size
        m = torch.as_tensor(np.asarray(mask, dtype=bool))[None, None].float()
        if m.shape[-2:] != (size, size):
            m = F.interpolate(m, size=(size, size), align_corners=False, mode="bilinear", antialias=True)
            m = (m >= 0.5).float()
        obj.points = None
        return self._step(obj.output_dict, feats, frame_idx, is_init, None, m.to(self.device), False)

    def _finalize_pending(self, except_frame: int | None) -> None:
        """Encode prompted frames into memory once their prompts are final (upstream does this in
        `propagate_in_video_preflight`, from the low-res logits, with point masks binarised)."""
        import torch
        import torch.nn.functional as F

        for obj in self._objs.values():
            if obj.pending is None or obj.pending[0] == except_frame:
                continue
            frame, is_cond = obj.pending
            key = "cond_frame_outputs" if is_cond else "non_cond_frame_outputs"
            out = obj.output_dict[key][frame]
            _, _, vision_feats, _, sizes = self._cached(frame)
            high = F.interpolate(out["pred_masks"], size=(self.model.image_size,) * 2, mode="bilinear",
                                 align_corners=False)
            mem, pos = self.model._encode_new_memory(vision_feats, sizes, high, out["object_score_logits"], True)
            out["maskmem_features"] = mem.to(torch.bfloat16)
            out["maskmem_pos_enc"] = self._shared_pos_enc(pos)
            if is_cond:
                obj.output_dict["non_cond_frame_outputs"].pop(frame, None)
            obj.tracked.add(frame)
            obj.pending, obj.points = None, None
            self._trim_cond(obj)

    # ----------------------------------------------------------------- memory bookkeeping
    def _evict(self, obj: _Obj, frame_idx: int) -> None:
        """Drop what frame `frame_idx + 1` cannot read: memories older than the `num_maskmem - 1`
        slots, pointers older than the pointer window, low-res masks of past frames."""
        m = self.model
        r = m.memory_temporal_stride_for_eval
        nxt = frame_idx + 1
        mem_frames = {nxt - 1} | {((nxt - 2) // r) * r - k * r for k in range(m.num_maskmem - 2)}
        ptr_frames = {nxt - d for d in range(1, m.max_obj_ptrs_in_encoder)} if m.use_obj_ptrs_in_encoder else set()
        non_cond = obj.output_dict["non_cond_frame_outputs"]
        for t in list(non_cond):
            if t not in mem_frames and t not in ptr_frames:
                del non_cond[t]
                continue
            out = non_cond[t]
            if t not in mem_frames:
                out["maskmem_features"] = None
            if t != frame_idx:
                out["pred_masks"] = None
        obj.tracked = {t for t in obj.tracked if t >= frame_idx} | set(obj.output_dict["cond_frame_outputs"])

    def _trim_cond(self, obj: _Obj) -> None:
        """Keep the first and the newest conditioning frames when a cap is set (re-seeding forever)."""
        cond = obj.output_dict["cond_frame_outputs"]
        if self.max_cond_frames is None or len(cond) <= self.max_cond_frames:
            return
        frames = sorted(cond)
        for t in frames[1 : len(frames) - self.max_cond_frames + 1]:
            del cond[t]

    def _shared_pos_enc(self, pos: list | None) -> list | None:
        if pos is None:
            return None
        if self._pos_enc is None:
            self._pos_enc = [x[0:1].clone() for x in pos]
        return self._pos_enc

    # ----------------------------------------------------------------- features and resizing
    def _features(self, frame_idx: int, image: np.ndarray) -> tuple:
        """Backbone features of this frame, computed once (prompts and tracking on one frame share them)."""
        if self._feat_cache is not None and self._feat_cache[0] == frame_idx:
            return self._feat_cache[1]
        feats = encode(self.model, [self.preprocess(image)])[0]
        self._feat_cache = (frame_idx, feats)
        return feats

    def _cached(self, frame_idx: int) -> tuple:
        if self._feat_cache is None or self._feat_cache[0] != frame_idx:
            raise RuntimeError(f"features of frame {frame_idx} are gone (prompts must be final before a new frame)")
        return self._feat_cache[1]

    def preprocess(self, image: np.ndarray) -> Any:
        """RGB uint8 H×W×3 → normalised 1×3×S×S on the model's device, with sam2's frame-loader arithmetic.

        An S×S image (a follow-view at the model size) is uploaded as uint8 and normalised on the device,
        bit-identical to the loader; another size is resized by PIL on the CPU first (bit-identical too;
        the runtime renders its follow-views at the model size, so it never pays for that)."""
        check_image(image)
        size = self.model.image_size
        if image.shape[:2] != (size, size):
            return preprocess_pil(image, size).to(self.device)
        return normalise(self._upload(image)[None], size, self.device)

    def _to_image_res(self, low_res: list, hw: tuple[int, int]) -> list[MaskOut]:
        """Low-res logits → image resolution, with upstream's optional non-overlap rule across objects."""
        import torch
        import torch.nn.functional as F

        if not self.non_overlap_masks:  # stay on the device until read (`device.fetch` reads many at once)
            return [LazyMask(lr, hw) for lr in low_res]
        stacked = torch.cat(low_res, dim=0)
        full = F.interpolate(stacked, size=tuple(hw), mode="bilinear", align_corners=False)
        full = self.model._apply_non_overlapping_constraints(full)
        logits = full[:, 0].float().cpu().numpy()
        return [MaskOut(lg, lg > 0.0) for lg in logits]


def _is_own_tensor(key: str, value: Any) -> bool:
    return key != "maskmem_pos_enc" and value is not None and hasattr(value, "numel")


def encode(model: Any, images: Sequence[Any]) -> list[tuple]:
    """Backbone features of normalised 1×3×S×S images in ONE image-encoder pass (a batch), split back into
    per-image feature tuples in the layout `SAM2Base.track_step` reads. Backends whose encoder takes one
    image at a time (`model.batch_images = False`: the ONNX/TensorRT graphs) get one pass per image."""
    import torch

    if len(images) == 1 or not getattr(model, "batch_images", True):
        out = []
        for img in images:
            backbone = model.forward_image(img)
            out.append((img, *model._prepare_backbone_features(backbone)))
        return out
    batch = torch.cat(list(images), dim=0)
    _, vision_feats, vision_pos, sizes = model._prepare_backbone_features(model.forward_image(batch))
    return [(images[b], None, [f[:, b : b + 1].contiguous() for f in vision_feats],
             [p[:, b : b + 1].contiguous() for p in vision_pos], sizes) for b in range(len(images))]


def track_streams(streams: Sequence[Any], images: Sequence[np.ndarray], frame_idx: int) -> list[dict]:
    """`stream.track(image, frame_idx)` for many streams, with the image encoder run once for all of their
    views when they are `SAM2StreamTracker`s sharing one model (other streams are tracked one by one).
    Batched features can differ from single-image ones in the last float bits on some CPU kernels."""
    import torch

    ours = [s for s in streams if isinstance(s, SAM2StreamTracker) and s._objs]
    if len(ours) > 1 and all(s.model is ours[0].model and s.dtype == ours[0].dtype for s in ours):
        first = ours[0]
        with torch.inference_mode(), autocast(first.device, first.dtype):
            imgs = [s.preprocess(images[streams.index(s)]) for s in ours]
            for s, feats in zip(ours, encode(first.model, imgs), strict=True):
                s._finalize_pending(except_frame=None)
                s.set_features(frame_idx, feats)
    return [s.track(img, frame_idx=frame_idx) for s, img in zip(streams, images, strict=True)]


def fetch_all(results: Sequence[dict]) -> None:
    """Resolve every lazy mask of these `track` results with one device→host copy."""
    fetch(m for r in results for m in r.values() if isinstance(m, LazyMask))
