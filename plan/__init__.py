"""The Plan: the contract between compiler and runtime, its canonical JSON, and the catalogue.

Importing this package loads nothing heavy: `ft check` reads the catalogue without pydantic.
"""
