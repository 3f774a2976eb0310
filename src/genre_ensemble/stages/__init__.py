"""Thin DVC stage entry points: read params.yaml once, validate it, call library code."""
