"""Light shared rules: no torch, no Textual, no httpx.

What the widgets, the app, the server and the trainer must all agree on lives here
once, so each side imports it without pulling in another side's heavy packages:
hyperparameter defaults and ranges (`hparams`), fine-tuned model names and suffix
rules (`naming`), the results CSV columns (`results_columns`), the local default
model's name (`models`).
"""
