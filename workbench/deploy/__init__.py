"""Shipping a run's model: ONNX export (optionally int8), the ONNX Runtime
model that ``predict``, ``eval`` and ``kg build`` use in its place, and the
check of an export against the model it came from; ``workbench serve``, a loaded
model behind a local HTTP endpoint (serve.py)."""
