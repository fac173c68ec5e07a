"""The language server's warm re-check: an edit of the quickstart, diagnostics back (target ≤ 50 ms).

    .venv/bin/python bench/lsp_recheck.py [--edits 50]

Speaks LSP over stdio to `python -m ftlang.lsp` as an editor does, opens recipes/quickstart.ft,
then times didChange → publishDiagnostics round trips; prints the median and the 90th percentile.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.lsp.test_server import Editor  # noqa: E402  (the tests' stdio client)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=50, help="how many edits to time")
    args = parser.parse_args()
    recipe = ROOT / "recipes" / "quickstart.ft"
    text = recipe.read_text()
    editor = Editor(ROOT)
    editor.request("initialize", {"processId": None, "rootUri": ROOT.as_uri(), "capabilities": {}})
    editor.notify("initialized", {})
    uri = recipe.as_uri()
    item = {"uri": uri, "languageId": "ft", "version": 1, "text": text}
    editor.notify("textDocument/didOpen", {"textDocument": item})
    editor.diagnostics(uri)
    times = []
    for version in range(2, args.edits + 2):
        edited = text.replace("epochs = 3", f"epochs = {version}")
        start = time.perf_counter()
        change = {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": edited}]}
        editor.notify("textDocument/didChange", change)
        editor.diagnostics(uri)
        times.append((time.perf_counter() - start) * 1000)
    editor.close()
    times.sort()
    p90 = times[int(len(times) * 0.9) - 1]
    print(f"warm_recheck_ms_median={statistics.median(times):.1f} warm_recheck_ms_p90={p90:.1f} edits={len(times)}")


if __name__ == "__main__":
    main()
