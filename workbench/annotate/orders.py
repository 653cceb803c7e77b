"""The orders a queue can be shown in (``pool.order`` makes them), apart so that
the command line lists them without loading models."""

ORDERS = ("balanced", "uncertain", "random")
DEFAULT_ORDER = "balanced"
ORDER_SAID = {  # what the Annotate screen says of the queue it shows
    "balanced": "Least certain of each kind of sentence first.",
    "uncertain": "Least certain first.",
    "random": "In random order.",
}
