"""Models: finding and fetching a pretrained encoder (``pretrained``), the tuning
methods (``tuning``), the saved folder's layout and metadata (``folder``), saving
and loading a trained model (``saved``) and its ONNX form (``onnx``).

Imports nothing above it (engine, deploy, runner, kg, annotate, front ends): a
trained model is read the same way by every one of them.
"""
