"""The local training engine. Heavy imports (torch, transformers) live in submodules
that only the trainer subprocess and the inference routes import."""
