"""The padded fixed-length memory ring (for TensorRT) equals the variable-length memory attention on
the valid part, at several fill levels, in PyTorch and through ONNX Runtime (CPU)."""

from __future__ import annotations

import numpy as np
import pytest

from ego360.core.errors import ModelError
from ego360.models.sam2 import names as N

pytestmark = [pytest.mark.filterwarnings("ignore"), pytest.mark.usefixtures("one_thread")]
SIZE = 64
FILLS = [(1, 4), (2, 0), (4, 36), (N.RING_FRAMES, N.RING_POINTERS * N.PTR_TOKENS)]


@pytest.fixture(scope="module")
def graphs(tmp_path_factory, random_sam2):
    pytest.importorskip("onnxruntime")
    from ego360.export.sam2_onnx import export_graphs

    out = tmp_path_factory.mktemp("ring")
    model = random_sam2(size=SIZE)
    export_graphs(model, SIZE, out, only=("memory_attention", "memory_attention_ring"))
    return model, out


def _session(folder, name):
    import onnxruntime as ort

    return ort.InferenceSession(str(folder / f"{name}.onnx"), providers=["CPUExecutionProvider"])


def _ring_inputs(fills, seed=3):
    from ego360.export.sam2_onnx import example_inputs

    return example_inputs(SIZE, seed=seed, ring_fills=tuple(fills))["memory_attention_ring"]


def test_ring_graph_equals_variable_length_pytorch_at_every_fill(graphs):
    from ego360.export.sam2_onnx import ring_reference

    model, folder = graphs
    inp = _ring_inputs(FILLS)
    got = _session(folder, "memory_attention_ring").run(
        None, {k: inp[k].numpy() for k in N.MEMORY_ATTENTION_RING.inputs})[0]
    import torch

    with torch.no_grad():
        ref = ring_reference(model, SIZE, inp).numpy()
    assert got.shape == ref.shape == ((SIZE // 16) ** 2, len(FILLS), 256)
    for b, fill in enumerate(FILLS):
        delta = float(np.abs(got[:, b] - ref[:, b]).max())
        print(f"ring fill {fill}: max |d| vs PyTorch = {delta:.3g}")
        assert delta <= 1e-4, fill
    # the padding holds random values: ignoring `memory_valid` would change the output
    inp_all = {k: inp[k].numpy() for k in N.MEMORY_ATTENTION_RING.inputs}
    inp_all["memory_valid"] = np.ones_like(inp_all["memory_valid"])
    unmasked = _session(folder, "memory_attention_ring").run(None, inp_all)[0]
    assert float(np.abs(unmasked[:, 0] - ref[:, 0]).max()) > 1e-2


def test_packed_memory_through_ring_equals_variable_length_graph(graphs):
    import torch

    from ego360.export.sam2_onnx import pack_ring

    _, folder = graphs
    var, ring = _session(folder, "memory_attention"), _session(folder, "memory_attention_ring")
    hw = (SIZE // 16) ** 2
    g = torch.Generator().manual_seed(5)
    for frames, n_ptr in [(1, 4), (5, 28), (N.RING_FRAMES, N.RING_POINTERS * N.PTR_TOKENS)]:
        curr, curr_pos = torch.randn(hw, 1, 256, generator=g), torch.randn(hw, 1, 256, generator=g)
        mem, pos = torch.randn(frames * hw + n_ptr, 1, 64, generator=g), torch.randn(frames * hw + n_ptr, 1, 64,
                                                                                     generator=g)
        ref = var.run(None, {"curr": curr.numpy(), "curr_pos": curr_pos.numpy(), "memory": mem.numpy(),
                             "memory_pos": pos.numpy(), "num_obj_ptr_tokens": np.array(n_ptr, np.int64)})[0]
        rmem, rpos, valid = pack_ring(mem, pos, n_ptr, SIZE)
        assert rmem.shape == (N.ring_length(SIZE), 1, 64) and float(valid.sum()) == frames * hw + n_ptr
        got = ring.run(None, {"curr": curr.numpy(), "curr_pos": curr_pos.numpy(), "memory": rmem.numpy(),
                              "memory_pos": rpos.numpy(), "memory_valid": valid.numpy()})[0]
        delta = float(np.abs(got - ref).max())
        print(f"packed {frames} frames + {n_ptr} pointer tokens: max |d| ring vs variable graph = {delta:.3g}")
        assert delta <= 1e-4


def test_memory_longer_than_the_ring_is_refused():
    torch = pytest.importorskip("torch")
    from ego360.export.sam2_onnx import pack_ring

    hw = (SIZE // 16) ** 2
    too_many = torch.zeros((N.RING_FRAMES + 1) * hw + 4, 1, 64)
    with pytest.raises(ModelError, match="does not fit the TensorRT ring"):
        pack_ring(too_many, too_many, 4, SIZE)
    with pytest.raises(ModelError, match="cap conditioning frames at 2"):
        pack_ring(torch.zeros(hw + 100, 1, 64), torch.zeros(hw + 100, 1, 64), 100, SIZE)


def test_ring_length_follows_the_sam2_memory_bank():
    assert N.RING_FRAMES == 8 and N.RING_POINTERS == 17
    assert N.ring_length(256) == 8 * 256 + 17 * 4
    assert N.shapes(256)["memory_attention_ring"]["memory_valid"] == ("B", N.ring_length(256))
