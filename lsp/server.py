"""The pygls wiring: LSP requests in, `features` answers out, positions in the client's units."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace import TextDocument

import ftlang
from ftlang.compiler.confine import allow
from ftlang.compiler.diagnostics import Diagnostic
from ftlang.compiler.source import Span

from . import features

server = LanguageServer("ft-lsp", ftlang.__version__)

_KINDS = {
    "keyword": types.CompletionItemKind.Keyword,
    "field": types.CompletionItemKind.Field,
    "statement": types.CompletionItemKind.Keyword,
    "method": types.CompletionItemKind.Class,
    "metric": types.CompletionItemKind.Value,
    "data field": types.CompletionItemKind.Variable,
    "module": types.CompletionItemKind.Module,
}


def _path(document: TextDocument) -> str:
    return to_fs_path(document.uri) or document.uri


def _range(document: TextDocument, text: str, span: Span) -> types.Range:
    start = features.offset_of(text, span.line, span.col)
    end = max(start, features.offset_of(text, span.end_line, span.end_col))
    return types.Range(document.client_position_at_offset(start), document.client_position_at_offset(end))


def _message(diagnostic: Diagnostic) -> str:
    parts = [diagnostic.message]
    if diagnostic.primary.text:
        parts.append(diagnostic.primary.text)
    parts.extend(f"note: {note}" for note in diagnostic.notes)
    if diagnostic.help:
        parts.append(f"help: {diagnostic.help}")
    return "\n".join(parts)


def _to_lsp(document: TextDocument, diagnostic: Diagnostic) -> types.Diagnostic:
    text, path = document.source, _path(document)
    related = [
        types.DiagnosticRelatedInformation(
            types.Location(document.uri, _range(document, text, label.span)), label.text or "related"
        )
        for label in diagnostic.secondary
        if label.span.file == path
    ]
    return types.Diagnostic(
        range=_range(document, text, diagnostic.span),
        message=_message(diagnostic),
        severity=types.DiagnosticSeverity.Error if diagnostic.severity == "error" else types.DiagnosticSeverity.Warning,
        code=diagnostic.code,
        source="ft",
        related_information=related or None,
    )


@server.feature(types.INITIALIZE)
def initialize(ls: LanguageServer, params: types.InitializeParams) -> None:
    """The folders the editor's own configuration allows (`initializationOptions.allowPaths`), as
    `--allow-path` does; relative ones against the workspace's root."""
    options = params.initialization_options
    folders = options.get("allowPaths") if isinstance(options, dict) else None
    if not isinstance(folders, list):
        return
    root = Path(to_fs_path(params.root_uri) or ".") if params.root_uri else Path.cwd()
    for folder in folders:
        if isinstance(folder, str) and folder:
            allow(root / Path(folder).expanduser())


def publish(ls: LanguageServer, uri: str) -> None:
    document = ls.workspace.get_text_document(uri)
    path = _path(document)
    result = features.check(document.source, path)
    # A diagnostic inside an imported file is shown there, not at a wrong place of this one.
    own = [d for d in result.diagnostics if d.span.file == path]
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=uri, diagnostics=[_to_lsp(document, d) for d in own])
    )


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: LanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    publish(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: LanguageServer, params: types.DidChangeTextDocumentParams) -> None:
    publish(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: LanguageServer, params: types.DidSaveTextDocumentParams) -> None:
    publish(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_HOVER)
def hover(ls: LanguageServer, params: types.HoverParams) -> types.Hover | None:
    document = ls.workspace.get_text_document(params.text_document.uri)
    text = features.hover(document.source, _path(document), document.offset_at_position(params.position))
    if text is None:
        return None
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text))


@server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["{", "[", " ", "."]))
def completion(ls: LanguageServer, params: types.CompletionParams) -> types.CompletionList:
    document = ls.workspace.get_text_document(params.text_document.uri)
    found = features.complete(document.source, _path(document), document.offset_at_position(params.position))
    items = [
        types.CompletionItem(label=c.label, kind=_KINDS.get(c.kind), detail=c.kind, documentation=c.detail or None)
        for c in found
    ]
    return types.CompletionList(is_incomplete=False, items=items)


@server.feature(types.TEXT_DOCUMENT_FORMATTING)
def formatting(ls: LanguageServer, params: types.DocumentFormattingParams) -> list[types.TextEdit] | None:
    document = ls.workspace.get_text_document(params.text_document.uri)
    text = document.source
    new = features.formatted(text, _path(document))
    if new is None or new == text:
        return [] if new is not None else None
    whole = types.Range(types.Position(0, 0), document.client_position_at_offset(len(text)))
    return [types.TextEdit(range=whole, new_text=new)]


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
def definition(ls: LanguageServer, params: types.DefinitionParams) -> types.Location | None:
    document = ls.workspace.get_text_document(params.text_document.uri)
    found = features.definition(document.source, _path(document), document.offset_at_position(params.position))
    if found is None:
        return None
    if found.path == _path(document):
        return types.Location(document.uri, _range(document, document.source, found.span))
    # Another file: its columns are taken as they are, since it is not open in this session.
    start = types.Position(found.span.line - 1, found.span.col - 1)
    end = types.Position(found.span.end_line - 1, found.span.end_col - 1)
    return types.Location(from_fs_path(found.path) or found.path, types.Range(start, end))


def serve() -> None:
    """Speak LSP on stdin/stdout until the editor says exit."""
    server.start_io()
