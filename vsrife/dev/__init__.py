"""Developer tools on top of the filter: benchmark, evaluation, ONNX export, visualisation."""
