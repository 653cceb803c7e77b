"""Sweeps: many runs of one recipe, their settings chosen by Optuna.

space.py (what ``--param`` and ``[sweep.params]`` say: a recipe key and a
distribution), study.py (the sweep folder, its spec and Optuna study, the trials
as rows), worker.py (running trials as ordinary `workbench run` processes until
the sweep has its count), pruning.py (inside a trial's run: its evaluations
reported to the study, the run stopped when the pruner says so).
"""
