"""Typed contracts: every stage's configuration and every output's manifest."""
