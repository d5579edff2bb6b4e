"""SAM2 export to ONNX / TensorRT."""
