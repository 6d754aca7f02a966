"""fttui: a keyboard-driven terminal program for fine-tuning language models."""

__version__ = "0.1.0"
