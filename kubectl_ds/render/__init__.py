"""The render layer: every piece of text a user reads is built here, one module per view (explain, plan,
status, history, the rollout's progress lines), with one JSON/YAML writer (output.py) and shared text
helpers (text.py). Views take the pure modules' values and return strings; nothing here does I/O."""
