"""Training, ensembling and export of IntentQL intent models (runs on a GPU host, no network)."""
