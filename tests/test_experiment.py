"""The prompt × model × data grid against real simulator sockets (one and two hosts), counted at
the server: the grid's rows and seeds, scores and intervals, paired statistics by hand, rescoring
and judging without regenerating, incremental runs (an edited prompt, an added model, stop and
resume), provenance, labels in the record and the leaderboard."""

from __future__ import annotations

import math
import sqlite3
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pandas
import pytest
from test_batch import second_simulator, session  # noqa: F401  (fixtures: a session on the simulator, a second host)

from ollama_nb import Experiment, Paired, Session, judge
from ollama_nb.experiment._statistics import bootstrap_interval, bradley_terry, sign_test
from ollama_nb.simulator import Simulator
from ollama_nb.simulator._grading import graded, right_label, skill

pytestmark = pytest.mark.timeout(120)

SCHEMA = {"type": "object", "properties": {"label": {"type": "string", "enum": ["positive", "negative", "mixed"]}},
          "required": ["label"]}
PROMPTS = {"terse": "Answer in one word, positive, negative or mixed: {item.text}",
           "steps": "Think step by step, then label the review as positive, negative or mixed: {item.text}"}
REVIEWS = pandas.DataFrame(
    {"text": ["Love them, works great.", "Leaking lid, returned it.", "Great sound but the cushions hurt.",
              "Sturdy and compact.", "Cheap ribs, inside out at once.", "Comfortable but one wheel squeaks."],
     "gold": ["positive", "negative", "mixed", "positive", "negative", "mixed"]},
    index=pandas.Index([f"r{i}" for i in range(1, 7)], name="id"))


def exact(answer: Any, item: Any) -> bool:
    return answer["label"] == item["gold"]


def generations(sim: Simulator) -> list[dict[str, Any]]:
    return [r.body for r in sim.requests if r.path == "/api/generate" and r.body]


def run(session: Session, **kwargs: Any) -> Experiment:
    settings: dict[str, Any] = {"models": ["llama3.2", "qwen3"], "repeat": 2, "format": SCHEMA,
                                "score": {"exact": exact}}
    exp = session.experiment(kwargs.pop("prompts", PROMPTS), kwargs.pop("items", REVIEWS), **{**settings, **kwargs})
    assert exp.wait(60)
    assert exp.failure is None
    return exp


# -- the grid ---------------------------------------------------------------------------------------
def test_the_grid_has_one_row_per_item_prompt_model_and_repeat_with_seeds_set_per_repeat(
        session: Session, simulator: Simulator) -> None:
    exp = run(session)
    results = exp.results
    assert len(results) == 6 * 2 * 2 * 2 and (results["status"] == "ok").all()
    assert Counter(zip(results["prompt"], results["model"], results["repeat"])) == {
        (p, m, r): 6 for p in PROMPTS for m in ("llama3.2", "qwen3") for r in (0, 1)}
    assert list(results.index.unique()) == list(REVIEWS.index) and results.index.name == "id"
    sent = generations(simulator)
    assert len(sent) == 48  # each cell once
    assert Counter((b["model"], b["options"]["seed"]) for b in sent) == {
        ("llama3.2", 0): 12, ("llama3.2", 1): 12, ("qwen3", 0): 12, ("qwen3", 1): 12}
    assert all(b["format"] == SCHEMA for b in sent)
    assert {"parsed", "exact", "ttft_s", "wall_s", "gpu_s", "host", "digest", "server_version"} <= set(results.columns)
    assert results["parsed"].map(lambda p: p["label"]).isin(["positive", "negative", "mixed"]).all()
    assert results["digest"].notna().all() and results["server_version"].notna().all()


def test_a_given_seed_is_the_first_repeats_and_the_others_follow(session: Session, simulator: Simulator) -> None:
    run(session, models=["llama3.2"], repeat=3, seed=40, prompts={"only": "{item.text}"})
    assert sorted({b["options"]["seed"] for b in generations(simulator)}) == [40, 41, 42]


def test_two_hosts_share_the_cells_and_each_is_sent_once(
        session: Session, simulator: Simulator, second_simulator: Simulator) -> None:
    exp = run(session, hosts=[simulator.url, second_simulator.url], concurrency=2)
    results = exp.results
    assert (results["status"] == "ok").all()
    first, second = generations(simulator), generations(second_simulator)
    assert first and second and len(first) + len(second) == len(results)
    assert set(results["host"]) == {simulator.url, second_simulator.url}
    assert exp.provenance()["drift"].eq(False).all()


def test_summary_means_sit_inside_their_intervals_and_count_items(session: Session) -> None:
    exp = run(session)
    summary = exp.summary()
    assert list(summary.index) == [(p, m) for m in ("llama3.2", "qwen3") for p in PROMPTS]
    assert (summary["n"] == 6).all() and (summary["failed"] == 0).all()
    assert ((summary["exact_low"] <= summary["exact"]) & (summary["exact"] <= summary["exact_high"])).all()
    results = exp.results
    by_hand = results[(results["prompt"] == "steps") & (results["model"] == "qwen3")]["exact"] \
        .astype(float).groupby(level=0).mean().mean()
    assert summary.loc[("steps", "qwen3"), "exact"] == pytest.approx(by_hand)
    assert (summary["gpu_s"] > 0).all() and (summary["output_tokens"] > 0).all()


def test_plot_draws_each_variant_at_its_mean_with_its_interval(session: Session) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    exp = run(session)
    summary = exp.summary()
    figure = exp.plot()
    axes = figure.axes[0]
    labels = [tick.get_text() for tick in axes.get_yticklabels()]
    assert labels == [f"{p} · {m}" for p, m in summary.index]
    points = axes.lines[0].get_xdata()
    assert list(points) == pytest.approx(list(summary["exact"]))
    (bars,) = [c for c in axes.collections if len(c.get_segments()) == len(summary)]
    for (low, high), segment in zip(zip(summary["exact_low"], summary["exact_high"]), bars.get_segments()):
        assert (segment[0][0], segment[1][0]) == pytest.approx((low, high))
    with pytest.raises(ValueError, match="no score to plot"):
        run(session, score=None).plot()


def test_paired_equals_a_hand_computation(session: Session) -> None:
    exp = run(session, repeat=3)
    paired = exp.paired("steps", "terse", model="qwen3")
    results = exp.results
    qwen = results[results["model"] == "qwen3"]
    per_item = {p: {i: sum(g["exact"]) / len(g) for i, g in qwen[qwen["prompt"] == p].groupby(level=0)}
                for p in PROMPTS}
    diffs = [per_item["steps"][i] - per_item["terse"][i] for i in REVIEWS.index]
    wins, losses = sum(d > 0 for d in diffs), sum(d < 0 for d in diffs)
    n = wins + losses
    p = min(1.0, 2 * sum(math.comb(n, i) for i in range(min(wins, losses) + 1)) / 2**n) if n else 1.0
    assert (paired.wins, paired.losses, paired.ties) == (wins, losses, 6 - n)
    assert paired.p_value == pytest.approx(p) and paired.mean_diff == pytest.approx(sum(diffs) / 6)
    assert paired.ci[0] <= paired.mean_diff <= paired.ci[1]
    assert list(paired.flips.index) == [i for i, d in zip(REVIEWS.index, diffs) if d != 0]
    assert repr(paired).startswith(f"steps beats terse on {wins} of 6 items, loses {losses}, ties {6 - n}; mean ")


def test_paired_asks_which_model_when_two_prompts_are_compared_across_several(session: Session) -> None:
    exp = run(session, repeat=1)
    with pytest.raises(ValueError, match="model="):
        exp.paired("steps", "terse")
    with pytest.raises(ValueError, match="prompt="):
        exp.paired("llama3.2", "qwen3")
    with pytest.raises(ValueError, match="two prompts"):
        exp.paired("steps", "qwen3")
    assert isinstance(exp.paired("qwen3", "llama3.2", prompt="steps"), Paired)


def test_sign_test_and_bootstrap_by_hand() -> None:
    assert sign_test(14, 3) == pytest.approx(2 * (1 + 17 + 136 + 680) / 2**17)
    assert sign_test(0, 0) == 1.0 and sign_test(5, 5) == 1.0
    low, high = bootstrap_interval([1.0] * 10)
    assert low == high == 1.0
    assert all(math.isnan(v) for v in bootstrap_interval([]))


# -- scores without answers -----------------------------------------------------------------------
def test_rescore_sends_nothing_and_a_judge_asks_once_per_answer_then_never_again(
        session: Session, simulator: Simulator) -> None:
    exp = run(session, repeat=1)
    answers = len(generations(simulator))
    exp.rescore({"short": lambda answer, item: len(answer["label"]) < 8})
    assert len(generations(simulator)) == answers
    assert exp.results["short"].notna().all()
    grader = judge("qwen3", "Is the label right for the review?")
    exp.rescore({"judge": grader})
    judged = generations(simulator)[answers:]
    assert len(judged) == answers and all(b["model"] == "qwen3" and b["options"]["temperature"] == 0 for b in judged)
    assert exp.results["judge"].between(1, 5).all()
    first = exp.results["judge"].tolist()
    exp.rescore({"judge again": judge("qwen3", "Is the label right for the review?")})
    assert len(generations(simulator)) == answers * 2  # the same questions: answered from memory
    assert exp.results["judge again"].tolist() == first


def test_a_scorer_that_raises_leaves_gaps_and_says_so_once(session: Session) -> None:
    exp = run(session, repeat=1, models=["llama3.2"])
    with pytest.warns(RuntimeWarning, match="12 answers could not be scored"):
        exp.rescore({"broken": lambda answer, item: item["nope"]})
    assert exp.results["broken"].isna().all()


# -- incremental ------------------------------------------------------------------------------------
def test_editing_one_prompt_sends_only_its_cells(session: Session, simulator: Simulator) -> None:
    run(session, repeat=2)
    before = len(generations(simulator))
    edited = {**PROMPTS, "steps": "Think step by step, carefully, then label it: {item.text}"}
    exp = run(session, prompts=edited, repeat=2)
    sent = generations(simulator)[before:]
    assert len(sent) == 6 * 2 * 2 and all(b["prompt"].startswith("Think step by step, carefully") for b in sent)
    assert exp.progress().reused == 24 and (exp.results["status"] == "ok").all()


def test_adding_a_model_sends_only_its_cells(session: Session, simulator: Simulator) -> None:
    run(session, models=["llama3.2"])
    before = len(generations(simulator))
    run(session, models=["llama3.2", "qwen3"])
    assert {b["model"] for b in generations(simulator)[before:]} == {"qwen3"}
    assert len(generations(simulator)) - before == 6 * 2 * 2


def test_a_stopped_experiment_resumes_with_only_what_did_not_finish(session: Session, simulator: Simulator) -> None:
    simulator.tokens_per_second = 400
    items = [f"item {i} [[tokens=40]]" for i in range(12)]
    exp = session.experiment({"a": "A {item}", "b": "B {item}"}, items, models=["llama3.2", "qwen3"], concurrency=2)
    for done, _ in enumerate(exp, 1):
        if done == 5:
            exp.stop()
    assert exp.wait(30)
    progress = exp.progress()
    assert progress.not_run > 0 and progress.ok >= 5 and progress.ok + progress.not_run + progress.failed == 48
    ok_before = progress.ok
    first = exp.results
    unfinished = {(f"{p.upper()} {items[first.index[i]]}", m) for i, (p, m, status) in
                  enumerate(zip(first["prompt"], first["model"], first["status"])) if status != "ok"}
    before = len(generations(simulator))
    simulator.tokens_per_second = None
    again = exp.resume()
    assert again.wait(60)
    assert (again.results["status"] == "ok").all()
    # a stream closed at the stop may reach the server's journal late: compare what, not how many
    resent = {(b["prompt"], b["model"]) for b in generations(simulator)[before:]}
    assert resent == unfinished and len(unfinished) == 48 - ok_before
    assert again.progress().reused == ok_before


def test_a_failing_cell_stays_in_the_grid_and_out_of_the_scores(session: Session) -> None:
    items = pandas.DataFrame({"text": ["fine", "boom [[status=500]]"], "gold": ["positive", "negative"]})
    exp = run(session, items=items, models=["llama3.2"], repeat=1)
    results = exp.results
    assert Counter(results["status"]) == {"ok": 2, "error": 2}
    assert results[results["status"] == "error"]["exact"].isna().all()
    assert (exp.summary()["failed"] == 1).all()


def test_bad_arguments_are_one_line_errors(session: Session) -> None:
    with pytest.raises(TypeError, match="prompts must be"):
        session.experiment(42, ["a"])
    with pytest.raises(ValueError, match="repeat"):
        session.experiment("{item}", ["a"], repeat=0)
    with pytest.raises(TypeError, match="not one string"):
        session.experiment("{item}", "abc")


# -- provenance ---------------------------------------------------------------------------------------
def test_provenance_lists_digests_and_versions_and_warns_on_drift(session: Session, simulator: Simulator) -> None:
    exp = run(session, repeat=1)
    table = exp.provenance()
    assert table.loc[("terse", "qwen3"), "versions"] == [simulator_version(simulator)]
    assert len(table.loc[("terse", "qwen3"), "digests"]) == 1 and not table["drift"].any()
    results = exp.results.copy()
    results.loc[results.index[:2], "server_version"] = "0.99.0"  # as if part came from another server
    from ollama_nb.experiment._tables import provenance_table

    with pytest.warns(UserWarning, match="more than one model digest or Ollama version"):
        assert provenance_table(results, {}).loc[("terse", "llama3.2"), "drift"]


def simulator_version(simulator: Simulator) -> str:
    import httpx

    return str(httpx.get(simulator.url + "/api/version").json()["version"])


# -- labels -----------------------------------------------------------------------------------------
def test_labels_go_to_the_record_and_a_new_experiment_of_the_same_grid_finds_them(
        simulator: Simulator, record_db: Path) -> None:
    session = Session(model="llama3.2", host=simulator.url)
    exp = run(session, repeat=1)
    exp.add_label("r1", "steps · qwen3", "terse · qwen3")
    exp.add_label("r2", "terse · llama3.2", "steps · llama3.2")
    exp.add_label("r3", "steps · qwen3", "terse · llama3.2", tie=True)
    exp.add_label("r4", "steps · qwen3", "terse · llama3.2")
    db = sqlite3.connect(record_db)
    stored = db.execute("SELECT experiment, item, winner, loser, tie FROM labels ORDER BY id").fetchall()
    db.close()
    assert stored[0] == (exp.name, "r1", "steps · qwen3", "terse · qwen3", 0) and stored[2][-1] == 1
    before = len(generations(simulator))
    again = run(Session(model="llama3.2", host=simulator.url), repeat=1)
    assert len(generations(simulator)) == before  # answered from the record
    assert again.name == exp.name and len(again.labels.all()) == 4
    board = again.leaderboard()
    assert board.loc["steps · qwen3", "judgements"] == 3 and board.index[0] == "steps · qwen3"


def test_a_variant_named_by_prompt_alone_must_be_unique(session: Session) -> None:
    exp = run(session, repeat=1, models=["llama3.2"])
    exp.add_label("r1", "steps", "terse")
    assert exp.labels.all() == [("r1", "steps · llama3.2", "terse · llama3.2", False)]
    two = run(session, repeat=1)
    with pytest.raises(ValueError, match="not one variant"):
        two.add_label("r1", "steps", "terse")


def test_bradley_terry_ranks_the_variant_that_wins_more() -> None:
    judgements = [("a", "b", False)] * 8 + [("b", "a", False)] * 2 + [("b", "c", False)] * 6 + [("a", "c", True)]
    rows = bradley_terry(["a", "b", "c"], judgements)
    assert [r["variant"] for r in rows] == ["a", "b", "c"]
    assert all(r["low"] <= r["strength"] <= r["high"] for r in rows)
    assert {r["variant"]: r["judgements"] for r in rows} == {"a": 11, "b": 16, "c": 7}


def test_label_tasks_show_two_answers_unnamed_in_random_order(session: Session) -> None:
    exp = run(session, repeat=1)
    tasks = list(exp.label_tasks(pair=["steps · qwen3", "terse · qwen3"], seed=1))
    assert len(tasks) == 6
    assert {(t["a"], t["b"]) for t in tasks} == {("steps · qwen3", "terse · qwen3"), ("terse · qwen3", "steps · qwen3")}
    exp.add_label(tasks[0]["index"], tasks[0]["a"], tasks[0]["b"])
    assert list(exp.label_tasks(pair=["steps · qwen3", "terse · qwen3"], seed=1))[-1]["index"] == tasks[0]["index"]


# -- the simulator's grading ------------------------------------------------------------------------
def test_the_simulator_grades_enums_by_model_prompt_and_seed() -> None:
    text = "Answer in one word: Leaking lid, returned it."
    assert right_label(["positive", "negative", "mixed"], text) == "negative"
    assert right_label(["red", "blue"], text) is None
    one = graded(SCHEMA, {"label": "positive"}, model="qwen3", text=text, seed=0)
    assert one == graded(SCHEMA, {"label": "positive"}, model="qwen3", text=text, seed=0)
    labels = {graded(SCHEMA, {"label": "positive"}, model="qwen3", text=text, seed=s)["label"] for s in range(40)}
    assert "negative" in labels and len(labels) > 1  # mostly right, not always
    assert skill("qwen3", "think step by step") != skill("gemma3", "think step by step")
    assert skill("llama3.2", "answer in one word") != skill("llama3.2", "think step by step")


def test_import_ollama_nb_experiment_pulls_no_numpy_or_pandas() -> None:
    import subprocess
    import sys

    code = "import sys, ollama_nb, ollama_nb.experiment; print('numpy' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_a_list_of_prompts_templates_or_functions_is_named_p1_p2(session: Session, simulator: Simulator) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exp = session.experiment(["A {item}", lambda item: f"B {item}"], ["x", "y"],
                                 score=lambda answer, item: len(answer))
        assert exp.wait(30)
    results = exp.results
    assert set(results["prompt"]) == {"p1", "p2"} and "score" in results.columns and results["score"].gt(0).all()
    assert sorted(b["prompt"] for b in generations(simulator)) == ["A x", "A y", "B x", "B y"]


def test_a_labelling_pass_records_each_choice_at_once_and_skips_nothing_else(session: Session) -> None:
    exp = run(session, repeat=1, models=["qwen3"])
    labelling = exp.label(seed=3)
    assert len(labelling.tasks) == 6 and labelling.current is not None
    first = labelling.current
    labelling.choose("A")
    assert exp.labels.all() == [(str(first["index"]), first["a"], first["b"], False)]
    second = labelling.current
    labelling.choose("B")
    labelling.choose("tie")
    labelling.choose("skip")
    assert exp.labels.all()[1] == (str(second["index"]), second["b"], second["a"], False)
    assert len(exp.labels.all()) == 3 and exp.labels.all()[2][3] is True
    assert labelling.line() == "4 of 6 seen · A 1 · B 1 · tie 1 · skip 1"
    with pytest.raises(ValueError, match="choose one of"):
        labelling.choose("C")
    assert "A: " in repr(labelling) and "steps" not in repr(labelling).split(">")[0]  # unnamed


def test_an_experiment_rebuilt_from_its_saved_results_rescores_the_same_without_a_server(
        session: Session, simulator: Simulator) -> None:
    exp = run(session, repeat=2)
    saved = exp.results
    before = len(generations(simulator))
    again = Experiment.from_results(saved, REVIEWS, score={"exact": exact}, format=SCHEMA)
    assert len(generations(simulator)) == before
    pandas.testing.assert_frame_equal(again.results, saved)
    assert repr(again.paired("steps", "terse", model="qwen3")) == repr(exp.paired("steps", "terse", model="qwen3"))


def test_a_missing_model_and_a_dead_host_end_as_errors_in_the_grid_not_exceptions(
        session: Session, simulator: Simulator) -> None:
    exp = run(session, models=["llama3.2", "missing-model"], repeat=1)
    results = exp.results
    missing = results[results["model"] == "missing-model"]
    assert (missing["status"] == "error").all() and missing["error"].str.contains("is not on the Ollama server").all()
    assert (results[results["model"] == "llama3.2"]["status"] == "ok").all()
    assert exp.summary().loc[("terse", "missing-model"), "failed"] == 6
    from test_batch import free_port_url

    dead = Session(model="llama3.2", host=free_port_url())
    down = dead.experiment("{item}", ["a", "b"], score=lambda answer, item: 1)
    assert down.wait(60) and down.failure is None
    assert (down.results["status"] == "error").all() and down.results["score"].isna().all()
    assert down.results["server_version"].isna().all()
