"""ftlang: a typed language for fine-tuning recipes."""

__version__ = "0.1.0"
