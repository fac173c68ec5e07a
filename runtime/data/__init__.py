"""Data at run time: sources, `where` filters, prompts and tokenization, batching and packing."""
