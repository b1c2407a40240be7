"""``%%ollama --over NAME`` in a real IPython shell against the simulator: per-item templates with
the usual interpolation, ``-o`` shaped like the input, ``--format``, config defaults, bad input;
the text progress line in a terminal, and the view's throttle with a fake clock."""

from __future__ import annotations

from typing import Any

import pandas
import pytest
from IPython.core.interactiveshell import InteractiveShell

from ollama_nb import _session
from ollama_nb.simulator import Simulator
from ollama_nb.view._batch_view import BatchView
from test_batch import most_streams_at_once
from test_magics import ip  # noqa: F401  (the shell fixture, with the extension loaded)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def batch_defaults(ip: InteractiveShell) -> None:
    magics = ip.magics_manager.registry["OllamaMagics"]
    magics.concurrency = 0
    magics.hosts = ""


def prompts(sim: Simulator) -> list[str]:
    return [r.body["prompt"] for r in sim.requests if r.path == "/api/generate" and r.body]


def test_over_a_list_interpolates_items_and_other_names_and_stores_a_list(ip: InteractiveShell, simulator: Simulator, capsys: Any) -> None:
    ip.user_ns.update(fruits=["apple", "pear", "fig"], tone="briefly", item="NOT THIS")
    result = ip.run_cell("%%ollama --over fruits -o answers\n{index}. Describe {item} {tone} [[echo]]")
    assert result.success, result.error_in_exec
    assert sorted(prompts(simulator)) == ["0. Describe apple briefly [[echo]]", "1. Describe pear briefly [[echo]]",
                                          "2. Describe fig briefly [[echo]]"]
    assert ip.user_ns["answers"] == ["0. Describe apple briefly", "1. Describe pear briefly", "2. Describe fig briefly"]
    out = capsys.readouterr().out
    assert "3/3 · 3 ok · 0 failed" in out  # the text progress line of a terminal
    assert _session.get_session().turns == []  # outside the conversation


def test_over_a_dataframe_with_format_stores_a_series_of_parsed_objects(ip: InteractiveShell, simulator: Simulator) -> None:
    ip.user_ns["reviews"] = pandas.DataFrame({"text": ["love it", "broken", "meh"]}, index=[101, 102, 103])
    ip.user_ns["schema"] = {"type": "object", "properties": {"label": {"type": "string"}}, "required": ["label"]}
    bad = "[[invalid-json]]"
    ip.user_ns["suffix"] = ""
    result = ip.run_cell(f"%%ollama --over reviews -o labels --format schema --concurrency 2\nClassify: {{item.text}}{{suffix}}")
    assert result.success, result.error_in_exec
    labels = ip.user_ns["labels"]
    assert isinstance(labels, pandas.Series) and list(labels.index) == [101, 102, 103]
    assert all(isinstance(v, dict) and "label" in v for v in labels)
    ip.user_ns["reviews"] = pandas.DataFrame({"text": ["fine", f"bad {bad}"]}, index=["a", "b"])
    assert ip.run_cell("%%ollama --over reviews -o labels --format schema\nClassify: {item.text}").success
    assert ip.user_ns["labels"]["a"] is not None and ip.user_ns["labels"]["b"] is None  # the bad item holds None


def test_the_blocking_path_runs_the_batch_in_a_thread(ip: InteractiveShell, simulator: Simulator) -> None:
    ip.user_ns["xs"] = ["one", "two"]
    ip.run_cell_magic("ollama", "--over xs -o out", "{item} [[echo]]")  # called from code: not rewritten
    assert ip.user_ns["out"] == ["one", "two"]


def test_over_a_dict_gives_a_series_indexed_by_its_keys(ip: InteractiveShell) -> None:
    ip.user_ns["cities"] = {"fr": "Paris", "jp": "Tokyo"}
    assert ip.run_cell("%%ollama --over cities -o out\n{item} [[echo]]").success
    assert dict(ip.user_ns["out"]) == {"fr": "Paris", "jp": "Tokyo"}


def test_concurrency_and_hosts_come_from_config(ip: InteractiveShell, simulator: Simulator) -> None:
    with Simulator(port=0) as other:
        ip.run_line_magic("config", "OllamaMagics.concurrency = 1")
        ip.run_line_magic("config", f"OllamaMagics.hosts = '{simulator.url},{other.url}'")
        ip.user_ns["xs"] = [f"n{i} [[tokens=3]] [[delay=0.01]]" for i in range(6)]
        assert ip.run_cell("%%ollama --over xs -o out\n{item}").success
        assert len(prompts(simulator)) + len(prompts(other)) == 6
        assert prompts(simulator) and prompts(other)
        assert most_streams_at_once(simulator) == 1 and most_streams_at_once(other) == 1
        assert all(ip.user_ns["out"])


def test_failed_items_hold_none_and_the_cell_still_succeeds(ip: InteractiveShell) -> None:
    ip.user_ns["xs"] = ["ok [[echo]]", "bad [[error-after=1]]", "ok too [[echo]]"]
    assert ip.run_cell("%%ollama --over xs -o out\n{item}").success
    assert ip.user_ns["out"] == ["ok", None, "ok too"]


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("%%ollama --over missing\n{item}", "'missing' is not defined"),
        ("%%ollama --over text\n{item}", "not one string"),
        ("%%ollama --over xs --concurrency 0\n{item}", "concurrency"),
    ],
)
def test_bad_over_usage_is_a_one_line_usage_error(ip: InteractiveShell, cell: str, message: str, capsys: Any) -> None:
    ip.user_ns.update(text="abc", xs=[1, 2])
    result = ip.run_cell(cell)
    assert not result.success
    assert message in str(result.error_in_exec)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_view_redraws_only_when_the_interval_has_passed(simulator: Simulator, capsys: Any) -> None:
    session = _session.Session(model="llama3.2", host=simulator.url)
    batch = session.map("{item} [[echo]]", list(range(5)))
    batch.wait()
    clock = FakeClock()
    view = BatchView(batch, interval=0.5, clock=clock, kernel=False)
    for _ in range(10):
        view.refresh()  # no time passes: one redraw (the first), never per call
    assert view.redraws == 1
    clock.now += 0.5
    view.refresh()
    assert view.redraws == 2
    view.finish("done")
    last_line = capsys.readouterr().out.rstrip().split("\r")[-1]
    assert last_line == f"llama3.2 over 5 items — done: {batch.progress().line()}"
    assert last_line.startswith("llama3.2 over 5 items — done: 5/5 · 5 ok · 0 failed")


def test_running_the_cell_again_sends_only_the_failed_and_no_cache_sends_all(ip: InteractiveShell, simulator: Simulator) -> None:
    ip.user_ns["xs"] = ["a [[echo]]", "b [[status=500]]", "c [[echo]]"]
    assert ip.run_cell("%%ollama --over xs -o out\n{item}").success
    assert ip.run_cell("%%ollama --over xs -o out\n{item}").success
    assert sorted(prompts(simulator)) == ["a [[echo]]", "b [[status=500]]", "b [[status=500]]", "c [[echo]]"]
    assert ip.run_cell("%%ollama --over xs -o out --no-cache\n{item}").success
    assert len(prompts(simulator)) == 4 + 3
