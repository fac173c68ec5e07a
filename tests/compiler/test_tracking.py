"""`track = [...]` at check time: the catalogue's trackers, read from installed metadata, never imported."""

import subprocess
import sys
import typing

from ftlang.plan.catalogue import TRACKERS
from ftlang.plan.models import TrainPlan
from tests.conftest import REPO

RECIPE = """model base = scratch(llama)
data d = jsonl("data/instructions.jsonl")
prompt p {
  user "{{ instruction }}"
  assistant "{{ response }}"
}
method full
train { track = [tensorboard, mlflow, wandb] }
"""


def test_the_plan_takes_exactly_the_catalogue_trackers() -> None:
    (item,) = typing.get_args(TrainPlan.model_fields["track"].annotation)
    assert typing.get_args(item) == tuple(TRACKERS)


def test_checking_a_tracked_recipe_imports_no_tracker() -> None:
    code = (
        "import sys; from ftlang.compiler.api import check_text;"
        f"result = check_text({RECIPE!r}, 'recipes/tracked.ft');"
        "assert result.ok, result.diagnostics;"
        "assert result.plan_data['train']['track'] == ['tensorboard', 'mlflow', 'wandb'];"
        "print([m for m in ('tensorboard', 'mlflow', 'wandb', 'torch') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_ft_explain_names_each_tracker_and_its_extra() -> None:
    from ftlang.plan.catalogue_docs import describe

    for name, spec in TRACKERS.items():
        text = describe(name)
        assert text is not None and text.startswith(f"track = [{name}]: an experiment tracker")
        assert f"pip install 'ftlang[{spec.extra}]'" in text
