"""Modules that use the engine, and the demo host."""
