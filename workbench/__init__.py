"""workbench: fine-tune transformer encoders from TOML recipes, in the terminal."""

__version__ = "0.1.0"
