"""Teaching a model in the terminal: a queue of the corpus's sentences (or texts),
pre-labelled by a trained model and ordered most useful first (``pool``; a
relation run's entity pairs: ``pairs``); the person's decisions, appended to a
file the readers load as training data (``decisions``); and a recipe that trains
on them from the model that proposed them (``retrain``). The TUI's Annotate
screen is the front end."""
