"""The catalogue is the one vocabulary: the Plan, the checker and the runtime agree with it."""

from __future__ import annotations

import re

import pytest

from ftlang.cli.main import main as ft_main
from ftlang.compiler.api import check_text
from ftlang.compiler.lexicon import grammar_keywords, grammar_text
from ftlang.compiler.schema_check import plan_schema
from ftlang.plan import catalogue as cat
from ftlang.plan.catalogue_docs import describe, regenerate
from ftlang.plan.declarations import DECLARATIONS
from ftlang.runtime.data.filters import _CALLS
from ftlang.runtime.evaluation import metrics as m
from ftlang.runtime.evaluation.gates import fits
from tests.conftest import REPO

# A prompt of each shape, over rows with the fields it uses.
PROMPTS = {
    "chat": 'user "{{ q }}"\n  assistant "{{ a }}"',
    "completion": 'input "{{ q }}"\n  target "{{ a }}"',
    "classification": 'input "{{ q }}"\n  label "{{ a }}"',
    "preference": 'input "{{ q }}"\n  chosen "{{ a }}"\n  rejected "{{ b }}"',
    "generation": 'input "{{ q }}"',
    "unpaired": 'input "{{ q }}"\n  completion "{{ a }}"\n  desirable "{{ ok }}"',
}
RECIPE = """
model base = scratch(llama)
data d = rows({{ q = "x", a = "y", b = "z", ok = true }}, {{ q = "u", a = "v", b = "w", ok = false }}) {{
  split {{ train = 50%, eval = 50% }} seed 1
}}
prompt p {{
  {prompt}
}}
method {method}{method_body}
train {{ data = d.train }}
eval {{
  on d.eval
  metrics [{metric}]
}}
"""


def _kinds(*models: str) -> set[str]:
    """The `kind` values Plan models accept, read from plan.schema.json."""
    kinds = [plan_schema()["$defs"][name]["properties"]["kind"] for name in models]
    return {value for kind in kinds for value in kind.get("enum", [kind.get("const")])}


def test_every_method_has_its_plan_model() -> None:
    defs = plan_schema()["$defs"]
    for name, spec in cat.METHODS.items():
        assert spec.plan_model in defs, f"{name}: no {spec.plan_model} in plan.schema.json"
        assert _kinds(spec.plan_model) == {name}
        assert set(spec.shapes) <= set(cat.PROMPT_SHAPES)
        assert spec.nested_fields <= set(defs[spec.plan_model]["properties"])
    plan_methods = plan_schema()["properties"]["method"]["discriminator"]["mapping"]
    assert set(plan_methods) == set(cat.METHODS)


def test_sources_schedules_and_prompt_shapes_are_the_plans() -> None:
    defs = plan_schema()["$defs"]
    plan_models = {"hf": "HfModel", "local": "LocalModel", "package": "PackageModel", "scratch": "ScratchModel"}
    assert set(plan_models) == set(cat.MODEL_SOURCES)
    for name, spec in cat.MODEL_SOURCES.items():
        assert _kinds(plan_models[name]) == {name}
        assert set(spec.positional) | set(spec.keywords) <= set(defs[plan_models[name]]["properties"])
    assert _kinds("FileData", "InlineData") <= set(cat.DATA_SOURCES)
    assert set(defs["Schedule"]["properties"]["kind"]["enum"]) == set(cat.SCHEDULES)
    assert set(defs["PromptPlan"]["properties"]["task"]["enum"]) == set(cat.PROMPT_SHAPES)


def test_the_runtime_implements_every_filter_function() -> None:
    assert set(_CALLS) == set(cat.FILTER_FUNCTIONS)


def test_the_runtime_implements_every_metric_once() -> None:
    tables = {
        "labels": [m.ON_LABELS],
        "text": [m.WITH_REFERENCE, m.WITH_ARGUMENT, m.ON_THEIR_OWN],
    }
    for name, spec in cat.METRICS.items():
        homes = [t for t in (m.ON_LABELS, m.WITH_REFERENCE, m.WITH_ARGUMENT, m.ON_THEIR_OWN) if name in t]
        expected = 1 if spec.source in tables else 0  # loss and preference metrics: the loss pass, the method
        assert len(homes) == expected, f"{name} ({spec.source}) is implemented {len(homes)} times"
        if spec.source == "text":
            assert (name in m.WITH_ARGUMENT) == (spec.argument is not None), name
            # A metric that compares with the expected answer cannot apply to an input alone.
            assert not (name in m.WITH_REFERENCE and "generation" in spec.shapes), name
    implemented = set(m.ON_LABELS) | set(m.WITH_REFERENCE) | set(m.WITH_ARGUMENT) | set(m.ON_THEIR_OWN)
    assert implemented <= set(cat.METRICS)


def test_metric_directions() -> None:
    assert not cat.METRICS["length"].rankable
    assert m.higher_is_better("accuracy") and not m.higher_is_better("loss")
    with pytest.raises(ValueError, match="no better direction"):
        m.higher_is_better("length")


def _checker_accepts(shape: str, metric: str) -> bool:
    spec = cat.METRICS[metric]
    written = f'{metric}("a")' if spec.argument else metric
    method = cat.methods_for(shape)[0]
    body = " { reward exact(a) }" if "rewards" in cat.METHODS[method].nested_fields else ""
    result = check_text(RECIPE.format(prompt=PROMPTS[shape], method=method, method_body=body, metric=written))
    assert result.plan is not None or any(d.code == "E0208" for d in result.diagnostics), [
        (d.code, d.message) for d in result.diagnostics
    ]
    return not any(d.code == "E0208" for d in result.diagnostics)


@pytest.mark.parametrize("shape", cat.PROMPT_SHAPES)
def test_checker_and_runtime_take_the_same_metrics(shape: str) -> None:
    """Every (prompt shape, metric) pair: `ft check` accepts it exactly when the runtime does."""
    assert shape in PROMPTS, f"add a `{shape}` prompt to PROMPTS"
    for metric in cat.METRICS:
        checker, runtime = _checker_accepts(shape, metric), fits(metric, shape)
        assert checker == runtime == (shape in cat.METRICS[metric].shapes), (shape, metric, checker, runtime)


def test_the_runtime_builds_every_method() -> None:
    """Methods that learn from targets are supervised fine-tuning; every other one has its own module."""
    from ftlang.runtime.methods.build import WORKLOADS

    supervised = {name for name, spec in cat.METHODS.items() if "chat" in spec.shapes}
    assert set(WORKLOADS) | supervised == set(cat.METHODS) and not set(WORKLOADS) & supervised


def test_the_docs_tables_are_the_catalogues() -> None:
    """Generated tables are up to date (`make docs` rewrites them); the methods doc lists every method."""
    docs = sorted((REPO / "docs").glob("*.md"))
    generated = [p for p in docs if "<!-- catalogue:" in p.read_text(encoding="utf-8")]
    assert REPO / "docs" / "evaluation.md" in generated
    for path in generated:
        text = path.read_text(encoding="utf-8")
        assert regenerate(text) == text, f"{path.name} is out of date with the catalogue: run `make docs`"
    methods_doc = (REPO / "docs" / "methods.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `(\w+)` \|", methods_doc.partition("\n## ")[0], re.M)
    assert listed == list(cat.METHODS), "docs/methods.md: the table at the top lists every method, in catalogue order"


def test_ft_explain_knows_every_name(capsys: pytest.CaptureFixture[str]) -> None:
    names = [*cat.METRICS, *cat.METHODS, *cat.DATA_SOURCES, *cat.MODEL_SOURCES, *cat.FILTER_FUNCTIONS, *cat.SCHEDULES]
    assert all(describe(name) for name in names)
    assert ft_main(["explain", "rouge_l"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("rouge_l: a metric\n") and "better: higher" in out
    assert describe("no_such_name") is None


def test_the_grammar_keywords_are_the_declarations() -> None:
    """The grammar spells each declaration's keyword; the compiler reads them from plan/declarations.py."""
    assert grammar_keywords() == list(DECLARATIONS)
    items = re.search(r"^_item: (.*?)\n\n", grammar_text(), re.M | re.S)
    assert items is not None
    assert re.findall(r"(\w+)_decl", items.group(1)) == list(DECLARATIONS)


def test_the_language_doc_names_every_source_function_schedule_and_method() -> None:
    text = (REPO / "docs" / "language.md").read_text(encoding="utf-8")
    tables = [cat.DATA_SOURCES, cat.MODEL_SOURCES, cat.FILTER_FUNCTIONS, cat.SCHEDULES, cat.METHODS]
    missing = [name for table in tables for name in table if not re.search(rf"`{name}\b|\b{name}\(", text)]
    assert missing == [], f"docs/language.md does not mention {', '.join(missing)}"


def test_every_reward_is_the_plans_and_the_runtimes() -> None:
    from ftlang.plan.models import Reward
    from ftlang.runtime.methods.rewards import _function

    reward = plan_schema()["$defs"]["Reward"]["properties"]
    assert set(reward["kind"]["enum"]) == set(cat.REWARDS)
    values = {"field": "answer", "pattern": "x", "max": 10, "path": "runs/reward"}
    for name, spec in cat.REWARDS.items():
        assert spec.argument is None or spec.argument in reward
        if name == "plugin":  # needs an installed package's entry point
            continue
        arguments = {spec.argument: values[spec.argument]} if spec.argument else {}
        term, _ = _function(Reward(kind=name, **arguments))
        assert term.startswith(name), f"the runtime computes `{name}` as `{term}`"


def test_the_runtime_decays_by_every_schedule() -> None:
    from ftlang.runtime.train.schedule import DECAYS

    assert set(DECAYS) == set(cat.SCHEDULES)
