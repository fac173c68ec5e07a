"""The Plan: schema file in sync with the models, canonical JSON, a hash that pins the content."""

import json

from ftlang.compiler.api import check_path, check_text
from ftlang.compiler.schema_check import plan_schema
from ftlang.plan.canonical import load_plan, plan_hash, plan_json
from ftlang.plan.models import Plan
from tests.conftest import RECIPES, REPO


def test_schema_file_matches_the_pydantic_models():
    # Regenerate with: make schema
    assert plan_schema() == json.loads(json.dumps(Plan.model_json_schema()))


def test_every_recipe_builds_a_valid_plan():
    for path in sorted(RECIPES.glob("*.ft")):
        result = check_path(path)
        assert result.ok, path
        assert isinstance(result.plan, Plan)


def test_plan_json_round_trips_and_is_canonical():
    plan = check_path(RECIPES / "quickstart.ft").plan
    text = plan_json(plan)
    again = load_plan(text)
    assert again == plan
    assert plan_json(again) == text
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert data["plan_hash"] == plan_hash(plan)


def test_plan_hash_ignores_where_the_checkout_lies(tmp_path):
    plan = check_path(RECIPES / "quickstart.ft").plan
    moved = plan.model_copy(update={"root": str(tmp_path)})
    assert plan_hash(moved) == plan_hash(plan)


def test_plan_hash_changes_with_any_value():
    text = (RECIPES / "quickstart.ft").read_text()
    path = str(RECIPES / "q.ft")
    a = check_text(text, path).plan
    b = check_text(text.replace("lr = 2e-3", "lr = 1e-3"), path).plan
    assert plan_hash(a) != plan_hash(b)
    assert b.train.lr == 1e-3


def test_plan_pins_data_content():
    plan = check_path(RECIPES / "quickstart.ft").plan
    import hashlib

    expected = hashlib.sha256((RECIPES / "data" / "tickets.jsonl").read_bytes()).hexdigest()
    assert plan.data[0].source.sha256 == expected


def test_params_and_overrides():
    text = (RECIPES / "sft-tiny.ft").read_text()
    path = str(RECIPES / "s.ft")
    assert check_text(text, path).plan.train.lr == 1e-2
    assert check_text(text, path, {"lr": "1e-4"}).plan.train.lr == 1e-4
    bad = check_text(text, path, {"lr": "fast"})
    assert not bad.ok and bad.diagnostics[0].code == "E0201"
    unknown = check_text(text, path, {"lrr": "1"})
    assert unknown.diagnostics[0].code == "E0403" and "`lr`" in unknown.diagnostics[0].help


def test_compiler_does_not_import_heavy_packages():
    import subprocess
    import sys

    code = (
        "import sys; from ftlang.cli.main import main; main(['check', 'recipes/quickstart.ft']);"
        "heavy = [m for m in ('torch', 'transformers', 'peft', 'datasets', 'pydantic') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
