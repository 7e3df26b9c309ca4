"""Embedded default scripts of the wargame module (package resources)."""
