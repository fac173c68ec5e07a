"""`python -m ftlang.lsp`: the language server on stdio (what `ft lsp` runs)."""

from ftlang.lsp.server import serve

serve()
