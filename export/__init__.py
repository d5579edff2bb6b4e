"""SAM2 export to ONNX / TensorRT, INT8 calibration and the precision accuracy report (build-time tools)."""
