"""The local server's default base model, named once for the trainer and the app.

The app uses it to check an upload with the tokenizer and context limit the local
trainer will apply; the registry (`fttui.train.registry`) builds its spec.
"""

DEFAULT_MODEL = "SmolLM2-135M-Instruct"
