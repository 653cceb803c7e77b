"""The Textual workbench: recipes, live runs, run history, comparison, prediction.

Only this package imports Textual; it reads run folders the way any other
process can, and starts training as a `workbench run` child process.
"""
