"""``%%ollama --over NAME --prompts P -m a,b --repeat N --score F -o VAR`` in a real IPython shell
against the simulator: the grid sent, the Experiment stored, the summary and the paired sentence
shown as text, bad names as one-line usage errors, and the view's safe tables."""

from __future__ import annotations

from typing import Any

import pandas
import pytest
from IPython.core.interactiveshell import InteractiveShell
from test_batch_magic import batch_defaults  # noqa: F401  (autouse: no concurrency or hosts from %config)
from test_magics import ip  # noqa: F401  (the shell fixture, with the extension loaded)

from ollama_nb import Experiment, Session
from ollama_nb.simulator import Simulator
from ollama_nb.view._experiment_view import ExperimentView, summary_markdown

pytestmark = pytest.mark.timeout(120)


def sent(sim: Simulator) -> list[dict[str, Any]]:
    return [r.body for r in sim.requests if r.path == "/api/generate" and r.body]


def test_prompts_models_repeats_and_a_score_make_an_experiment(ip: InteractiveShell, simulator: Simulator,
                                                                capsys: Any) -> None:
    ip.user_ns.update(
        reviews=pandas.DataFrame({"text": ["Love it", "Returned it"], "gold": ["positive", "negative"]}),
        prompts={"terse": "One word: {item.text}", "steps": "Think step by step: {item.text}"},
        schema={"type": "object", "properties": {"label": {"enum": ["positive", "negative", "mixed"]}}},
        exact=lambda answer, item: answer["label"] == item["gold"],
    )
    result = ip.run_cell("%%ollama --over reviews --prompts prompts -m llama3.2,qwen3 --repeat 2 --score exact "
                         "--format schema -o exp\n")
    assert result.success, result.error_in_exec
    exp = ip.user_ns["exp"]
    assert isinstance(exp, Experiment) and len(exp.results) == 2 * 2 * 2 * 2
    assert len(sent(simulator)) == 16 and {b["options"]["seed"] for b in sent(simulator)} == {0, 1}
    out = capsys.readouterr().out
    assert "16/16 cells · 16 ok" in out and "| terse | llama3.2 | 2 | 0 |" in out


def test_the_cell_body_is_the_one_prompt_and_two_models_give_the_paired_sentence(
        ip: InteractiveShell, simulator: Simulator, capsys: Any) -> None:
    ip.user_ns.update(words=["red", "green", "blue"], long=lambda answer, item: len(answer) > 60, tone="briefly")
    result = ip.run_cell("%%ollama --over words -m llama3.2,qwen3 --score long -o exp\n{index}. Describe {item} {tone}")
    assert result.success, result.error_in_exec
    expected = ["0. Describe red briefly", "1. Describe green briefly", "2. Describe blue briefly"]
    assert sorted(b["prompt"] for b in sent(simulator)) == sorted(expected * 2)  # notebook names and {index}
    out = capsys.readouterr().out
    assert "qwen3 beats llama3.2 on" in out and "of 3 items" in out


def test_a_second_run_sends_nothing(ip: InteractiveShell, simulator: Simulator) -> None:
    ip.user_ns.update(words=["a", "b"], prompts=["A {item}", "B {item}"])
    assert ip.run_cell("%%ollama --over words --prompts prompts --repeat 2\n").success
    before = len(sent(simulator))
    assert ip.run_cell("%%ollama --over words --prompts prompts --repeat 2 -o again\n").success
    assert len(sent(simulator)) == before == 8 and ip.user_ns["again"].progress().reused == 8


@pytest.mark.parametrize("cell, message", [
    ("%%ollama --over nothing --repeat 2\nx", "--over takes the name"),
    ("%%ollama --over words --prompts missing\n", "--prompts takes the name"),
    ("%%ollama --over words --repeat 2 --score missing\nx", "--score takes the name"),
    ("%%ollama --over words --prompts words_count\n", "prompts must be"),
])
def test_bad_names_are_usage_errors(ip: InteractiveShell, simulator: Simulator, capsys: Any, cell: str,
                                    message: str) -> None:
    ip.user_ns.update(words=["a"], words_count=3)
    ip.run_cell(cell)
    assert message in capsys.readouterr().err
    assert sent(simulator) == []


def test_the_summary_shows_html_in_names_as_text(simulator: Simulator) -> None:
    session = Session(model="llama3.2", host=simulator.url)
    exp = session.experiment({"<img src=x onerror=alert(1)>": "{item}", "b|c": "B {item}"}, ["x"],
                             score={"<b>s</b>": lambda answer, item: 1})
    assert exp.wait(30)
    table = str(summary_markdown(exp))
    assert "<img" not in table and "&lt;img" in table and "<b>" not in table and "b&#124;c" in table
    view = ExperimentView(exp, kernel=False)
    view.finish("done")  # no kernel: a text line, no exception


def test_the_view_redraws_only_when_the_interval_has_passed(simulator: Simulator) -> None:
    session = Session(model="llama3.2", host=simulator.url)
    exp = session.experiment("{item}", ["x"])
    assert exp.wait(30)
    now = [0.0]
    view = ExperimentView(exp, kernel=False, interval=1.0, clock=lambda: now[0])
    view.refresh()
    view.refresh()
    now[0] = 0.5
    view.refresh()
    now[0] = 1.6
    view.refresh()
    assert view.redraws == 2
