"""Prepared fields: where the per-field stages of ``prepare`` keep their arrays, and the store cache of them."""
