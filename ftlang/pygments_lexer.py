"""A Pygments lexer for .ft recipes, registered as `ft` so `pygmentize -l ft` and docs colour them.

Declaration keywords are read from the one table of them (plan/declarations.py), so a new
declaration is coloured without an edit here; templates inside strings show their `{{ field }}` parts as interpolation.
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Text, Whitespace

from ftlang.plan.declarations import DECLARATIONS

_NUMBER = r"(\d[\d_]*(\.\d+)?|\.\d+)"


class FtLexer(RegexLexer):
    name = "ftlang"
    aliases = ["ft", "ftlang"]
    filenames = ["*.ft"]
    mimetypes = ["text/x-ftlang"]

    tokens = {
        "root": [
            # A statement (`where …`, `metrics […]`, `guard …`) is the first word of a line in a block.
            (r"^([ \t]+)([A-Za-z_][A-Za-z0-9_]*)(?=[ \t]+[^=\s])", bygroups(Whitespace, Keyword.Reserved)),
            (r"[ \t\f]+", Whitespace),
            (r"\n", Whitespace),
            (r"#[^\n]*", Comment.Single),
            (r'"""', String.Double, "long-string"),
            (r'"', String.Double, "string"),
            # A declaration starts a line; `train = 80%` inside `split { … }` is a field.
            (words(tuple(DECLARATIONS), prefix=r"^", suffix=r"\b(?![ \t]*[=:.])"), Keyword.Declaration),
            (words(("extends", "as", "sha256"), suffix=r"\b"), Keyword),
            (words(("true", "false"), suffix=r"\b"), Keyword.Constant),
            (words(("and", "or", "not", "in"), suffix=r"\b"), Operator.Word),
            (_NUMBER + r"%", Number),
            (r"\d[\d_]*\.\d+([eE][+-]?\d+)?|\d[\d_]*[eE][+-]?\d+", Number.Float),
            (r"\d[\d_]*", Number.Integer),
            (r"([A-Za-z_][A-Za-z0-9_]*)(\s*)(\()", bygroups(Name.Function, Text, Punctuation)),
            (r"([A-Za-z_][A-Za-z0-9_]*)(\s*)(=)(?!=)", bygroups(Name.Attribute, Text, Operator)),
            (r"[A-Za-z_][A-Za-z0-9_]*", Name),
            (r">=|<=|==|!=|[<>+\-*/=:]", Operator),
            (r"[{}\[\](),.]", Punctuation),
        ],
        "string": [
            (r"\\.", String.Escape),
            (r"\{\{", String.Interpol, "interpolation"),
            (r"\{%", String.Interpol, "interpolation"),
            (r'"', String.Double, "#pop"),
            (r'[^"\\{\n]+', String.Double),
            (r"\{", String.Double),
        ],
        "long-string": [
            (r"\\.", String.Escape),
            (r"\{\{", String.Interpol, "interpolation"),
            (r"\{%", String.Interpol, "interpolation"),
            (r'"""', String.Double, "#pop"),
            (r'[^"\\{]+', String.Double),
            (r'["{]', String.Double),
        ],
        "interpolation": [
            (r"\}\}|%\}", String.Interpol, "#pop"),
            (r"[^}%\"]+", String.Interpol),
            (r"[}%]", String.Interpol),
            (r'"', String.Interpol),
        ],
    }
