"""What several test files share: files and data, tiny models, runs (real and
made up), graphs, and driving the TUI. Fixtures stay in tests/conftest.py."""
