"""Retraining on new acquisitions: the ledger of what was processed, the model registry, the holdout."""
