"""A seeded, grammar-aware fuzzer of the compiler, run in-process by a test and by bench/fuzz.py.

Each case is a folder: a recipe (mutated from the example recipes by bytes, tokens, lines or
grammar pieces, or built to stress one thing: deep nesting, size, unicode, binary bytes) and the
files it may name (libraries, a lock, a model folder, data). `run_case` checks it through the
public API as `ft check`, `ft plan` and `ft fmt` would, and classifies what went wrong:
an internal error (any exception), a hang (over `HANG_SECONDS` for a recipe under 100 KB),
an unlocated diagnostic (its file is not among the sources it can be shown from, or its line
is past the file's end) or a bad snippet (the line a diagnostic quotes is not the file's line).
"""

from __future__ import annotations

import json
import random
import re
import shutil
import signal
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ftlang.compiler.api import check_path
from ftlang.compiler.format import format_source
from ftlang.compiler.render import render_text, to_json
from ftlang.plan.canonical import plan_json

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
SEEDS = {
    name: (RECIPES / name).read_text(encoding="utf-8")
    for name in ("quickstart.ft", "sft-tiny.ft", "dpo-tiny.ft", "grpo-tiny.ft", "sft-shared.ft")
}
HANG_SECONDS = 2.0
HANG_SIZE = 100_000
FORMAT_SIZE = 20_000  # `ft fmt` parses three times to prove its output: larger recipes are checked only
BIG_HANG_SECONDS = 10.0  # a recipe of 100 KB or more may take longer, linearly, but not this long
ABORT_SECONDS = 90  # wall time: a case still running after this is stopped and counted as a hang

WORDS = (
    "recipe import param model data prompt method train eval sweep compute extends as sha256 and or not in "
    "true false where dedupe split seed on metrics compare guard max_drop require generate input label target "
    "chosen rejected system user assistant labels lora dpo grpo full rank alpha dropout targets beta epochs lr "
    "batch micro_batch schedule cosine linear warmup pack max_len jsonl csv parquet datasets hf local package "
    "scratch llama delta len base accuracy rouge_l exact_match loss reward json_valid 0 -1 1e-4 2e400 1e309 "
    "3.5 10% 200% 007 1_000 99999999999999999999999999 { } ( ) [ ] = : , . % >= < + - * / # \" ' ;"
).split() + [
    '""',
    '"{{ body }}"',
    '"{{ nope }}"',
    '"{% if %}"',
    '"{{ 9 ** 9 ** 9 }}"',
    "\"{{ 'a' * 10 ** 9 }}\"",
    '"{{ lipsum(n=100000) }}"',
    '"{{ ' + "9" * 5000 + ' }}"',
    '"{% for i in range(10**9) %}x{% endfor %}"',
    '"""\n  {{ x }\n"""',
    '"data/none.jsonl"',
    '"/etc/passwd"',
    '"../../../../etc/passwd"',
    '"/dev/zero"',
    '"this.x"',
    '"os"',
    '"."',
    'import "lib/lora.ft" as house\n',
    "extends house.lora",
    "house.",
    "\n",
    "\t",
    "\r\n",
    " ",
    "\x00",
    "\\",
    "{{",
    "}}",
]
UNICODE = ["é", "日本", "\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\x85", "\u200b", "e\u0301", "😀", "\ufeff", "\r"]
MODEL_CONFIGS = ["[]", "3", '"llama"', "null", '{"model_type": 5}', '{"model_type": "llama", "hidden_size": "x"}', "{"]
DATASET_INFOS = ["[]", '{"features": 3}', '{"features": [1, 2]}', "null", "{", '{"features": {"a": {}}}']
LOCKS = ["[]", '{"imports": []}', '{"imports": 3}', '{"imports": {"x": 1}}', "null", "{", '"imports"']


@dataclass
class Outcome:
    """What one case did wrong; an empty outcome is a clean case."""

    internal_errors: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    unlocated: list[str] = field(default_factory=list)
    bad_snippets: list[str] = field(default_factory=list)
    seconds: float = 0.0


class _Abort(Exception):
    pass


@contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    def stop(signum: int, frame: object) -> None:
        raise _Abort

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _tokens(text: str) -> list[str]:
    return re.findall(r'"""[\s\S]*?"""|"[^"\n]*"|\w+|\s+|.', text)


def _mutate_text(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(["char", "token-insert", "token-delete", "token-dup", "token-swap", "line", "truncate"])
        tokens = _tokens(text) or [""]
        i = rng.randrange(len(tokens))
        if kind == "char" and text:
            at = rng.randrange(len(text))
            text = text[:at] + rng.choice([*WORDS, *UNICODE, ""]) + text[at + 1 :]
        elif kind == "token-insert":
            tokens.insert(i, rng.choice(WORDS))
        elif kind == "token-delete":
            del tokens[i]
        elif kind == "token-dup":
            tokens.insert(i, tokens[i])
        elif kind == "token-swap":
            j = rng.randrange(len(tokens))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif kind == "line":
            lines = text.split("\n")
            at = rng.randrange(len(lines))
            lines.insert(at, lines[at]) if rng.random() < 0.5 else lines.pop(at)
            text = "\n".join(lines)
        else:
            text = text[: rng.randint(0, len(text))]
        if kind.startswith("token"):
            text = "".join(tokens)
    return text


def _grammar_piece(rng: random.Random) -> str:
    """A declaration built from the grammar's shapes with random names and values."""
    value = rng.choice(
        ["1", "2e-4", "10%", "true", "[a, b]", '"{{ body }}"', "cosine(warmup = 5%)", "x.y", "{ a = 1 }", "-3"]
    )
    field_ = rng.choice(["rank", "lr", "epochs", "labels", "targets", "max_len", "beta", "nope", "seed"])
    kind = rng.choice(["train", "method lora", "eval", "prompt p", "compute", "method dpo", "method grpo"])
    entry = rng.choice([f"{field_} = {value}", f"metrics [{value}]", f"require {field_} >= {value}"])
    return f"\n{kind} {{\n  {entry}\n}}\n"


def _deep(rng: random.Random, base: str) -> str:
    depth = rng.choice([100, 1000, 5000, 30000])
    opener, closer = rng.choice([("[", "]"), ("(", ")"), ("{ a = ", "}"), ("-", ""), ("not ", ""), ("f(", ")")])
    closed = closer * depth if rng.random() < 0.7 else ""
    return base + f"\ntrain {{\n  lr = {opener * depth}1{closed}\n}}\n"


@dataclass
class Case:
    """A recipe's bytes and the other files of its folder, by path relative to it."""

    recipe: bytes
    files: dict[str, bytes] = field(default_factory=dict)
    fifo: str | None = None


def _with_model(rng: random.Random, text: str) -> Case:
    text = re.sub(r"model base = [^\n]*", 'model base = local("m")', text, count=1)
    return Case(text.encode(), {"m/config.json": rng.choice(MODEL_CONFIGS).encode()})


def _with_package(rng: random.Random, text: str) -> Case:
    name = rng.choice(["this.x", "../../etc/passwd", "os", "antigravity", "", "ftlang.cli", "a" * 300, "\x00"])
    text = re.sub(r"model base = [^\n]*", lambda _: f"model base = package({json.dumps(name)})", text, count=1)
    return Case(text.encode())


def _with_data(rng: random.Random, text: str) -> Case:
    depth = rng.choice([10, 3000, 100000])
    rows = rng.choice(
        [
            '{"body": ' + "[" * depth + "]" * depth + "}\n",
            '{"body": ' + "9" * 5000 + "}\n",
            '{"body": "\\ud800"}\n',
            '{"body": NaN}\n',
            '{"body": 1, "body": 2}\n',
            "\xff\xfe\n",
            "[1]\n",
        ]
    )
    kind = rng.choice(["jsonl", "csv", "datasets"])
    files = {"d.jsonl": rows.encode("utf-8", "surrogateescape"), "d.csv": b"a,a\n1\x002,3\n"}
    files["ds/dataset_info.json"] = rng.choice(DATASET_INFOS).encode()
    path = {"jsonl": "d.jsonl", "csv": "d.csv", "datasets": "ds"}[kind]
    if rng.random() < 0.2:
        path, kind = "/dev/zero", "jsonl"
    case = Case(b"", files)
    if rng.random() < 0.1:
        case.fifo, path = "fifo.jsonl", "fifo.jsonl"
    text = re.sub(r'data (\w+) = \w+\("[^"]*"\)', lambda m: f'data {m.group(1)} = {kind}("{path}")', text, count=1)
    case.recipe = text.encode()
    return case


def _with_imports(rng: random.Random, text: str) -> Case:
    lib = _mutate_text(rng, SEEDS["quickstart.ft"]) if rng.random() < 0.5 else "param lr: float = 1e-3\n"
    chain = rng.choice(
        [
            'import "b.ft" as b\n',
            'import "a.ft" as a\n',
            "",
            'import "../../../../etc/passwd" as p\n',
            'import "/etc/passwd" as p\n',
        ]
    )
    files = {"a.ft": (chain + lib).encode(), "b.ft": ('import "a.ft" as a\n' + lib).encode()}
    recipe = 'import "a.ft" as a\n' + text
    files["case.ft.lock"] = rng.choice(LOCKS).encode()
    if rng.random() < 0.5:
        del files["case.ft.lock"]
    return Case(recipe.encode(), files)


def _with_unicode(rng: random.Random, text: str) -> Case:
    for _ in range(rng.randint(1, 5)):
        at = rng.randrange(len(text) + 1)
        text = text[:at] + rng.choice(UNICODE) + text[at:]
    return Case(text.encode())


def _binary(rng: random.Random, text: str) -> Case:
    data = bytearray(text.encode())
    for _ in range(rng.randint(1, 5)):
        data.insert(rng.randrange(len(data) + 1), rng.choice([0xFF, 0xC3, 0x80, 0xE2, 0x00, 0xFE]))
    if rng.random() < 0.2:
        data = bytearray(rng.randbytes(rng.randint(1, 2000)))
    return Case(bytes(data))


def _big(rng: random.Random, text: str) -> Case:
    size = rng.choice([50_000, 90_000, 1_000_000])
    filler = rng.choice(["  where len(body) < 400\n", "# a comment\n", 'model m = hf("x")\n', "x = {\n"])
    return Case((text + 'data t = jsonl("x") {\n' + filler * (size // len(filler)) + "}\n").encode())


def _templates(rng: random.Random, text: str) -> Case:
    template = rng.choice([w for w in WORDS if "{{" in w or "{%" in w])
    text = re.sub(r'"\{\{ (\w+) \}\}"', lambda _: template, text, count=1)
    return Case(text.encode())


MAKERS: list[Callable[[random.Random, str], Case]] = [
    lambda rng, text: Case(_mutate_text(rng, text).encode()),
    lambda rng, text: Case(_mutate_text(rng, text).encode()),
    lambda rng, text: Case(_mutate_text(rng, text + _grammar_piece(rng)).encode()),
    lambda rng, text: Case(_deep(rng, text).encode()),
    _with_model,
    _with_package,
    _with_data,
    _with_imports,
    _with_unicode,
    _binary,
    _big,
    _templates,
]


def make_case(seed: int, big_files: bool = True) -> Case:
    """Case `seed`; without `big_files`, a recipe is cut to under HANG_SIZE (the test's quick run)."""
    rng = random.Random(seed)
    text = SEEDS[rng.choice(sorted(SEEDS))]
    case = rng.choice(MAKERS)(rng, text)
    if not big_files:
        case.recipe = case.recipe[: HANG_SIZE - 1]
    return case


def write_case(case: Case, folder: Path) -> Path:
    """The case's files in `folder` (emptied first), beside copies of the recipes' data and lib."""
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(RECIPES / "data", folder / "data")
    shutil.copytree(RECIPES / "lib", folder / "lib")
    for name, content in case.files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    if case.fifo:
        import os

        os.mkfifo(folder / case.fifo)
    recipe = folder / "case.ft"
    recipe.write_bytes(case.recipe)
    return recipe


def _file_lines(path: str) -> list[str] | None:
    try:
        raw = Path(path).read_bytes()
    except OSError:
        return None
    return raw.decode("utf-8", "replace").replace("\r\n", "\n").split("\n")


def _inspect(result: object, outcome: Outcome) -> None:
    sources = result.sources  # type: ignore[attr-defined]
    for d in result.diagnostics:  # type: ignore[attr-defined]
        for label in (d.primary, *d.secondary):
            span = label.span
            source = sources.get(span.file)
            where = f"{d.code} {span.file}:{span.line}:{span.col} {d.message[:80]}"
            if source is None or span.line < 1 or span.col < 1:
                outcome.unlocated.append(where)
                continue
            lines = _file_lines(span.file)
            if lines is None:  # not a file on disk (the command line): its source is what it shows
                continue
            if span.line > len(lines) or span.col > len(lines[span.line - 1]) + 2:
                outcome.unlocated.append(where)
            elif source.line_text(span.line).rstrip("\r") != lines[span.line - 1].rstrip("\r"):
                outcome.bad_snippets.append(where)


def _timed(outcome: Outcome, small: bool, step: Callable[[], object]) -> object:
    """Run the check; CPU time over HANG_SECONDS on a small recipe is a hang (CPU time,
    not wall time, so a loaded machine does not make hangs of slow neighbours)."""
    start = time.process_time()
    result = step()
    spent = time.process_time() - start
    outcome.seconds += spent
    if spent > (HANG_SECONDS if small else BIG_HANG_SECONDS):
        outcome.hangs.append(f"{spent:.1f} s of CPU")
    return result


def _check(path: Path, outcome: Outcome) -> None:
    result = check_path(path)
    render_text(result.diagnostics, result.sources, colour=True)
    to_json(result.diagnostics, result.sources)
    _inspect(result, outcome)
    if result.ok and result.plan is not None:
        plan_json(result.plan)


def _format(path: Path) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return
    format_source(text, str(path))


def run_case(path: Path) -> Outcome:
    """Check, plan and format the recipe at `path` as the CLI would, and say what went wrong."""
    outcome = Outcome()
    small = path.stat().st_size < HANG_SIZE
    try:
        with _deadline(ABORT_SECONDS):
            _timed(outcome, small, lambda: _check(path, outcome))
            if path.stat().st_size < FORMAT_SIZE:
                _format(path)
    except Exception as exc:
        if isinstance(exc, _Abort) or isinstance(getattr(exc, "orig_exc", None), _Abort):
            outcome.hangs.append(f"stopped after {ABORT_SECONDS} s")
        else:
            outcome.internal_errors.append(traceback.format_exc(limit=-3))
    return outcome


@dataclass
class Totals:
    cases: int = 0
    internal_errors: int = 0
    hangs: int = 0
    unlocated: int = 0
    bad_snippets: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, seed: int, outcome: Outcome) -> None:
        self.cases += 1
        for kind in ("internal_errors", "hangs", "unlocated", "bad_snippets"):
            found = getattr(outcome, kind)
            if found:
                setattr(self, kind, getattr(self, kind) + 1)
                self.examples.setdefault(kind, []).append(f"seed {seed}: {found[0]}")

    def line(self) -> str:
        return (
            f"cases={self.cases} internal_errors={self.internal_errors} hangs={self.hangs} "
            f"unlocated={self.unlocated} bad_snippets={self.bad_snippets}"
        )


def fuzz(
    seeds: range, folder: Path, big_files: bool = True, progress: Callable[[Totals], None] | None = None
) -> Totals:
    totals = Totals()
    for seed in seeds:
        path = write_case(make_case(seed, big_files), folder)
        totals.add(seed, run_case(path))
        if progress is not None and totals.cases % 250 == 0:
            progress(totals)
    return totals
