"""The ftlang compiler: .ft text to a checked, typed Plan (never imports torch)."""
