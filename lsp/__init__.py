"""`ft lsp`: a language server for .ft recipes over the compiler's own diagnostics and catalogue."""
