"""ONNX Runtime on the GPU behind the sam2-onnx backend: provider options from the config, and a clear
error (not a silent CPU run) where the CUDA / TensorRT execution provider cannot load."""

from __future__ import annotations

import pytest

from ego360.core.errors import ConfigError, ModelError
from ego360.models.sam2.backend_onnx import check_providers, provider_options, providers_from_names


def test_provider_options_follow_the_provider_order():
    providers = providers_from_names("tensorrt,cuda,cpu")
    opts = provider_options("cuda: device_id=1, arena_extend_strategy=kSameAsRequested;tensorrt:trt_fp16_enable=1",
                            providers)
    assert opts == [{"trt_fp16_enable": "1"}, {"device_id": "1", "arena_extend_strategy": "kSameAsRequested"}, {}]
    assert provider_options("", providers) == [{}, {}, {}]


@pytest.mark.parametrize("text,msg", [("gpu:device_id=0", "not PROVIDER:key=value"),
                                      ("cuda:device_id", "'device_id' in cuda is not key=value"),
                                      ("tensorrt:trt_fp16_enable=1", "does not list")])
def test_bad_provider_options_are_one_line_config_errors(text, msg):
    with pytest.raises(ConfigError, match=msg):
        provider_options(text, providers_from_names("cuda,cpu"))


def test_a_provider_that_cannot_load_names_what_to_install():
    msg = "offers CPUExecutionProvider, not CUDAExecutionProvider; install onnxruntime-gpu"
    with pytest.raises(ModelError, match=msg):
        check_providers(providers_from_names("cuda,cpu"), ["CPUExecutionProvider"])
    check_providers(providers_from_names("cpu"), ["CPUExecutionProvider"])  # fine


@pytest.mark.gpu
def test_cuda_provider_loads_where_onnxruntime_gpu_is_installed():
    ort = pytest.importorskip("onnxruntime")
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("onnxruntime-gpu is not installed")
    check_providers(providers_from_names("cuda,cpu"), ort.get_available_providers())
