"""GPU (`gpu`): every exported graph, padded ring included, through ONNX Runtime's CUDA execution
provider equals PyTorch (run by scripts/gpu_check.sh where onnxruntime-gpu is installed)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.mark.gpu
def test_every_graph_on_the_cuda_execution_provider(tmp_path, random_sam2):
    torch = pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    if not torch.cuda.is_available() or "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("needs CUDA and onnxruntime-gpu")
    from ego360.export.sam2_onnx import export_graphs, verify_graphs

    model = random_sam2(size=128)
    export_graphs(model, 128, tmp_path)
    figures = verify_graphs(model, 128, tmp_path, providers=("CUDAExecutionProvider",))
    for name, (delta, cos) in figures.items():
        print(f"ORT CUDA EP {name}: max |d| = {delta:.3g}, cosine = {cos:.8f}")
    # cuDNN/cuBLAS may use TF32: looser than the CPU's 1e-4, still a same-function check
    assert all(cos >= 0.999 and delta <= 5e-2 for delta, cos in figures.values()), figures
