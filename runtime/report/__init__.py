"""The run report: report.md and report.html, gathered from the run directory's own files."""
