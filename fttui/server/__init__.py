"""The local OpenAI-compatible fine-tuning server (`fttui serve`).

Public entry points: `fttui.server.main.serve` (the CLI) and
`fttui.server.app.create_app` (an ASGI app for a given `Settings`).
"""
