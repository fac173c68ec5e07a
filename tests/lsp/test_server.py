"""The language server over stdio, spoken to as an editor would: JSON-RPC frames in and out."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ftlang.compiler.api import check_path

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


class Editor:
    """A minimal LSP client: numbered requests, notifications, and the server's messages."""

    def __init__(self, root: Path, *options: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ftlang.cli.main", "lsp", *options],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=root,
        )
        self.next_id = 0
        self.inbox: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        length = 0
        while (line := self.process.stdout.readline().strip()) != b"":
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return dict(json.loads(self.process.stdout.read(length)))

    def request(self, method: str, params: dict[str, Any]) -> Any:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        while True:
            message = self.receive()
            if message.get("id") == self.next_id and "method" not in message:
                assert "error" not in message, message
                return message.get("result")
            self.inbox.append(message)

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self.send({"method": method, "params": params})

    def diagnostics(self, uri: str) -> list[dict[str, Any]]:
        """The next diagnostics published for `uri`."""
        while True:
            pending = [m for m in self.inbox if m.get("method") == "textDocument/publishDiagnostics"]
            for message in pending:
                self.inbox.remove(message)
                if message["params"]["uri"] == uri:
                    return list(message["params"]["diagnostics"])
            self.inbox.append(self.receive())

    def close(self) -> None:
        self.request("shutdown", {})
        self.notify("exit", {})
        self.process.wait(timeout=10)


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[tuple[Editor, Path]]:
    shutil.copytree(RECIPES, tmp_path / "recipes")
    quickstart = (tmp_path / "recipes" / "quickstart.ft").read_text()
    broken = quickstart.replace("{{ body }}", "{{ ticket_body }}").replace("  lr = 2e-3", "  lerning_rate = 2e-3")
    (tmp_path / "recipes" / "support.ft").write_text(broken)
    editor = Editor(tmp_path)
    editor.request("initialize", {"processId": None, "rootUri": (tmp_path).as_uri(), "capabilities": {}})
    editor.notify("initialized", {})
    yield editor, tmp_path / "recipes"
    editor.close()


def _open(editor: Editor, path: Path, text: str | None = None) -> str:
    uri = path.as_uri()
    item = {"uri": uri, "languageId": "ft", "version": 1, "text": text if text is not None else path.read_text()}
    editor.notify("textDocument/didOpen", {"textDocument": item})
    return uri


def _position(text: str, needle: str, shift: int = 0) -> dict[str, int]:
    offset = text.index(needle) + shift
    line = text.count("\n", 0, offset)
    return {"line": line, "character": offset - (text.rfind("\n", 0, offset) + 1)}


def test_diagnostics_are_ft_checks_own(workspace: tuple[Editor, Path]) -> None:
    editor, recipes = workspace
    uri = _open(editor, recipes / "support.ft")
    published = editor.diagnostics(uri)
    expected = check_path(recipes / "support.ft").diagnostics
    assert [d["code"] for d in published] == [d.code for d in expected]
    typo = next(d for d in published if d["code"] == "E0102")
    assert typo["range"]["start"] == {"line": expected[1].span.line - 1, "character": expected[1].span.col - 1}
    assert "help: did you mean `lr`?" in typo["message"]


def test_an_edit_rechecks_and_clears_the_error(workspace: tuple[Editor, Path]) -> None:
    editor, recipes = workspace
    path = recipes / "support.ft"
    uri = _open(editor, path)
    assert editor.diagnostics(uri)
    fixed = path.read_text().replace("lerning_rate", "lr").replace("ticket_body", "body")
    editor.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": fixed}]},
    )
    assert editor.diagnostics(uri) == []


def test_hover_explains_fields_methods_metrics_and_data(workspace: tuple[Editor, Path]) -> None:
    editor, recipes = workspace
    text = (recipes / "quickstart.ft").read_text()
    uri = _open(editor, recipes / "quickstart.ft")

    def hover(needle: str, shift: int = 0) -> str:
        result = editor.request(
            "textDocument/hover", {"textDocument": {"uri": uri}, "position": _position(text, needle, shift)}
        )
        return str(result["contents"]["value"]) if result else ""

    assert "global batch" in hover("batch =") and "default: `8`" in hover("batch =")
    assert "low-rank adapters" in hover("method lora", len("method "))
    assert "higher is better" in hover("macro_f1")
    assert hover("{{ team }}", 3).startswith("**data field `team`**: str · e.g. '")


def test_completion_offers_what_fits_the_place(workspace: tuple[Editor, Path]) -> None:
    editor, recipes = workspace
    text = (recipes / "quickstart.ft").read_text()
    path = recipes / "quickstart.ft"
    uri = _open(editor, path)

    def labels(edited: str, needle: str, shift: int) -> set[str]:
        editor.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": edited}]},
        )
        result = editor.request(
            "textDocument/completion", {"textDocument": {"uri": uri}, "position": _position(edited, needle, shift)}
        )
        return {item["label"] for item in result["items"]}

    in_train = text.replace("  seed = 1234\n", "  seed = 1234\n  mi\n")
    assert {"micro_batch", "max_len", "lr"} <= labels(in_train, "  mi\n", 4)
    in_metrics = text.replace("metrics [accuracy, macro_f1, loss]", "metrics [accuracy, ")
    assert {"macro_f1", "rouge_l"} <= labels(in_metrics, "metrics [accuracy, ", len("metrics [accuracy, "))
    in_template = text.replace('input "{{ subject }}. {{ body }}"', 'input "{{ subject }}. {{ bo')
    assert {"body", "subject", "team"} <= labels(in_template, "{{ bo", 5)
    top = text + "\ntr"
    assert "train" in labels(top, "\ntr", 3)


def test_formatting_returns_the_canonical_text(workspace: tuple[Editor, Path]) -> None:
    editor, recipes = workspace
    messy = "recipe x\ntrain   {epochs=2,lr=1e-3}\n"
    uri = _open(editor, recipes / "messy.ft", messy)
    edits = editor.request(
        "textDocument/formatting", {"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": True}}
    )
    assert edits[0]["newText"] == "recipe x\n\ntrain {\n  epochs = 2\n  lr = 1e-3\n}\n"


def test_definition_follows_extends_imports_and_data(workspace: tuple[Editor, Path]) -> None:
    editor, recipes = workspace
    text = (recipes / "router-shared.ft").read_text()
    uri = _open(editor, recipes / "router-shared.ft")

    def goto(needle: str, shift: int) -> dict[str, Any]:
        position = _position(text, needle, shift)
        return dict(editor.request("textDocument/definition", {"textDocument": {"uri": uri}, "position": position}))

    extended = goto("extends house.lora", len("extends house."))
    assert extended["uri"] == (recipes / "lib" / "lora.ft").as_uri()
    library = (recipes / "lib" / "lora.ft").read_text()
    assert extended["range"]["start"]["line"] == library[: library.index("method lora")].count("\n")
    assert goto('"lib/eval-suite.ft"', 3)["uri"] == (recipes / "lib" / "eval-suite.ft").as_uri()
    on = goto("on tickets.eval", 3)
    assert on["uri"] == uri and on["range"]["start"]["line"] == text[: text.index("data tickets")].count("\n")
