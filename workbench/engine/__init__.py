"""The training engine: the loop, nothing task-specific."""
