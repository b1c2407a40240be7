"""One prompt over many items against real simulator sockets: order and index, the concurrency
limit counted at the server, failures isolated, retries without duplicates, several hosts, stop,
resume, pandas in and out."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from typing import Any, Iterator

import pandas
import pytest

from ollama_nb import Batch, ItemResult, NoModelError, Session
from ollama_nb.batch import MAX_SENDS
from ollama_nb.simulator import Simulator

pytestmark = pytest.mark.timeout(60)

SLOW = "[[tokens=400]]"  # slow while the simulator is paced (tokens_per_second)


def most_streams_at_once(sim: Simulator) -> int:
    """The most /api/generate requests the server had open at one time, from its journal."""
    open_now = most = 0
    for event in sim.events:
        if event.path != "/api/generate":
            continue
        if event.kind == "request":
            open_now += 1
            most = max(most, open_now)
        elif event.kind in ("complete", "disconnect", "drop"):
            open_now -= 1
    return most


def prompts_sent(sim: Simulator) -> list[str]:
    return [r.body["prompt"] for r in sim.requests if r.path == "/api/generate" and r.body]


def wait_for_generate_requests(sim: Simulator, n: int) -> None:
    """Until the server has received ``n`` /api/generate requests (other paths, such as the
    record's /api/tags, do not count)."""
    while len(prompts_sent(sim)) < n:
        sim.wait_for("request", timeout=10)


def free_port_url() -> str:
    """An address where nothing listens (a port bound and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def session(simulator: Simulator) -> Session:
    return Session(model="llama3.2", host=simulator.url)


@pytest.fixture
def second_simulator() -> Iterator[Simulator]:
    with Simulator(port=0) as sim:
        yield sim


def test_results_keep_input_order_and_each_answer_is_its_own_item(session: Session, simulator: Simulator) -> None:
    # later items are shorter, so they finish first: completion order differs from input order
    items = [f"item {i} [[echo]] [[tokens={40 - 3 * i}]] [[delay=0.002]]" for i in range(12)]
    batch = session.map("{item}", items, concurrency=4)
    completed = [r.position for r in batch]
    results = batch.results
    assert [r.index for r in results] == list(range(12))
    assert [r.status for r in results] == ["ok"] * 12
    for i, result in enumerate(results):
        assert result.answer is not None and result.answer.startswith(f"item {i} ")
    assert sorted(completed) == list(range(12))
    assert completed != list(range(12))  # they really did complete out of order
    assert Counter(prompts_sent(simulator)) == Counter(items)  # each sent exactly once


def test_the_same_items_with_another_model_are_sent_again_without_a_record(simulator: Simulator) -> None:
    # without a record the model's digest is unknown; the in-memory key must still tell models apart
    session = Session(model="llama3.2", host=simulator.url, record=False)
    first = session.map("{item}", ["a", "b"])
    first.wait(30)
    second = session.map("{item}", ["a", "b"], model="qwen3")
    second.wait(30)
    models = [r.body["model"] for r in simulator.requests if r.path == "/api/generate" and r.body]
    assert sorted(models) == ["llama3.2", "llama3.2", "qwen3", "qwen3"]
    assert not any(result.reused for result in second.results)


def test_concurrency_never_exceeds_the_limit_counted_at_the_server(session: Session, simulator: Simulator) -> None:
    batch = session.map("n {item} [[tokens=6]] [[delay=0.01]]", list(range(20)), concurrency=3)
    assert all(r.status == "ok" for r in batch.results)
    assert most_streams_at_once(simulator) == 3


def test_an_items_error_does_not_stop_the_batch(session: Session, simulator: Simulator) -> None:
    items = ["fine [[tokens=3]]", "broken [[error-after=2]]", "fine too [[tokens=3]]", "refused [[status=500]]",
             "missing [[status=404]]", "last [[tokens=3]]"]
    batch = session.map("{item}", items, concurrency=2)
    statuses = [r.status for r in batch.results]
    assert statuses == ["ok", "error", "ok", "error", "error", "ok"]
    errors = [r.error for r in batch.failed()]
    assert len(errors) == 3 and all(e and "\n" not in e for e in errors)
    assert [r.index for r in batch.failed()] == [1, 3, 4]
    # an in-band error line and a 500 are not retried: one request each
    assert Counter(prompts_sent(simulator))["broken [[error-after=2]]"] == 1
    assert batch.progress().line().startswith("6/6 · 3 ok · 3 failed")


def test_server_busy_is_retried_without_duplicating_an_answer(session: Session, simulator: Simulator) -> None:
    simulator.busy_next_requests(3)
    items = [f"q{i} [[echo]]" for i in range(6)]
    batch = session.map("{item}", items, concurrency=2)
    results = batch.results
    assert [r.status for r in results] == ["ok"] * 6
    assert [r.answer for r in results] == [i.replace(" [[echo]]", "") for i in items]
    sent = prompts_sent(simulator)
    assert len(sent) == 6 + 3 and set(sent) == set(items)  # three 503s, each item answered once


def test_dropped_connection_is_retried_then_the_item_fails_alone(session: Session, simulator: Simulator) -> None:
    batch = session.map("{item}", ["ok [[tokens=3]]", "drops [[drop-after=2]]"], concurrency=2)
    results = batch.results
    assert [r.status for r in results] == ["ok", "error"]
    assert results[1].answer is None  # a partial answer is never kept as the answer
    assert Counter(prompts_sent(simulator))["drops [[drop-after=2]]"] == MAX_SENDS


def test_two_hosts_share_the_items_each_within_its_limit(simulator: Simulator, second_simulator: Simulator) -> None:
    session = Session(model="llama3.2", host=simulator.url)
    items = [f"{i} [[echo]] [[tokens=5]] [[delay=0.01]]" for i in range(16)]
    batch = session.map("{item}", items, concurrency=2, hosts=[simulator.url, second_simulator.url])
    results = batch.results
    assert [r.status for r in results] == ["ok"] * 16
    assert Counter(prompts_sent(simulator)) + Counter(prompts_sent(second_simulator)) == Counter(items)
    assert most_streams_at_once(simulator) == 2 and most_streams_at_once(second_simulator) == 2
    by_host = {f["host"]: f["items"] for f in batch.host_figures()}
    assert by_host[simulator.url] + by_host[second_simulator.url] == 16
    assert {r.host for r in results} == {simulator.url, second_simulator.url}


def test_a_host_that_does_not_answer_leaves_the_rotation(simulator: Simulator) -> None:
    dead = free_port_url()
    session = Session(model="llama3.2", host=simulator.url)
    batch = session.map("{item} [[echo]]", [f"x{i}" for i in range(8)], concurrency=2, hosts=[dead, simulator.url])
    results = batch.results
    assert [r.status for r in results] == ["ok"] * 8
    assert {r.host for r in results} == {simulator.url}
    figures = {f["host"]: f for f in batch.host_figures()}
    assert figures[dead]["in_rotation"] is False and figures[simulator.url]["in_rotation"] is True


def test_a_host_that_dies_mid_batch_hands_its_items_to_the_other(simulator: Simulator) -> None:
    session = Session(model="llama3.2", host=simulator.url)
    items = [f"{i} [[echo]] [[tokens=20]] [[delay=0.01]]" for i in range(16)]
    with Simulator(port=0) as doomed:
        batch = session.map("{item}", items, concurrency=2, hosts=[doomed.url, simulator.url])
        while len(prompts_sent(doomed)) < 3:
            doomed.wait_for("request", timeout=10)
        doomed.stop()  # its open streams are cut; new connections are refused
        results = batch.results
    assert [r.status for r in results] == ["ok"] * 16
    # each answer is its own item's, whole and once: a retried item starts afresh, nothing appended
    assert all((r.answer or "").startswith(str(i)) for i, r in enumerate(results))
    expected = session.map("{item}", items, concurrency=4, cache=False).results  # the healthy host alone
    assert [r.answer for r in results] == [e.answer for e in expected]
    figures = {f["host"]: f for f in batch.host_figures()}
    assert figures[doomed.url]["in_rotation"] is False
    cut = [p for p in prompts_sent(doomed) if not any(r.prompt == p and r.host == doomed.url for r in results)]
    assert cut and all(p in prompts_sent(simulator) for p in cut)  # what was cut there was answered here


def test_no_host_answering_fails_every_item_with_one_line(simulator: Simulator) -> None:
    session = Session(model="llama3.2", host=free_port_url())
    results = session.map("{item}", ["a", "b", "c"], concurrency=2).results
    assert [r.status for r in results] == ["error"] * 3
    assert all(r.error and "no host answered" in r.error for r in results)


def start_stopped_batch(session: Session, simulator: Simulator, *, cache: bool = True) -> Batch:
    """Three quick items finish, three slow ones are streaming, four never start; then stop."""
    items = [f"quick {i} [[tokens=2]]" for i in range(3)] + [f"slow {i} {SLOW}" for i in range(7)]
    simulator.tokens_per_second = 40
    batch = session.map("{item}", items, concurrency=3, cache=cache)
    wait_for_generate_requests(simulator, 6)  # 3 quick, then 3 slow in flight
    batch.stop()
    assert batch.wait(timeout=10)
    simulator.tokens_per_second = None  # a re-run goes at full speed
    return batch


def test_stop_closes_every_open_stream_and_keeps_the_finished(session: Session, simulator: Simulator) -> None:
    batch = start_stopped_batch(session, simulator)
    for _ in range(3):
        simulator.wait_for("disconnect", timeout=5)  # the server sees each of the three closes
    statuses = [r.status for r in batch.results]
    assert statuses == ["ok"] * 3 + ["not run"] * 7
    assert all(r.answer is None for r in batch.results[3:])
    assert len(prompts_sent(simulator)) == 6  # nothing sent after the stop
    assert [e.kind for e in simulator.events].count("disconnect") == 3
    assert batch.answers() == [batch.results[i].answer for i in range(3)] + [None] * 7


def test_running_again_sends_only_the_items_without_a_finished_answer(session: Session, simulator: Simulator) -> None:
    first = start_stopped_batch(session, simulator)
    before = len(prompts_sent(simulator))
    items = [r.prompt for r in first.results]
    again = session.map("{item}", items, concurrency=3)
    assert all(r.reused for r in again.results[:3])
    sent_again = prompts_sent(simulator)[before:]
    assert sorted(sent_again) == sorted(items[3:])  # only the 7 that were not finished
    # cache=False sends every item again
    forced = session.map("{item}", items[:3], concurrency=3, cache=False)
    assert [r.reused for r in forced.results] == [False] * 3
    assert len(prompts_sent(simulator)) == before + 7 + 3
    assert [r.status for r in again.results] == ["ok"] * 10


def test_retry_failed_sends_only_the_failed(session: Session, simulator: Simulator) -> None:
    batch = session.map("{item}", ["a [[tokens=2]]", "b [[status=500]]", "c [[tokens=2]]"], concurrency=2)
    assert [r.status for r in batch.results] == ["ok", "error", "ok"]
    retry = batch.retry_failed()
    assert [r.status for r in retry.results] == ["ok", "error", "ok"]
    assert Counter(prompts_sent(simulator)) == Counter({"a [[tokens=2]]": 1, "b [[status=500]]": 2, "c [[tokens=2]]": 1})


def test_dataframe_in_series_out_with_templates_over_columns(session: Session) -> None:
    frame = pandas.DataFrame({"name": ["ann", "bob", "cy"], "age": [31, 42, 27]}, index=["r1", "r2", "r3"])
    batch = session.map("{index}: {item.name} is {item[age]} [[echo]]", frame, concurrency=2)
    answers = batch.answers()
    assert isinstance(answers, pandas.Series)
    assert list(answers.index) == ["r1", "r2", "r3"]
    assert list(answers) == ["r1: ann is 31", "r2: bob is 42", "r3: cy is 27"]
    table = batch.to_pandas()
    assert list(table.index) == ["r1", "r2", "r3"]
    assert list(table.columns) == ["answer", "parsed", "status", "error", "ttft_s", "output_tokens", "tokens_per_s", "host"]
    assert (table["status"] == "ok").all() and (table["output_tokens"] > 0).all()


def test_dict_and_series_keep_their_keys(session: Session) -> None:
    answers = session.map("{item} [[echo]]", {"x": "one", "y": "two"}).answers()
    assert dict(answers) == {"x": "one", "y": "two"}
    series = pandas.Series(["p", "q"], index=[10, 20])
    assert list(session.map(lambda v: f"{v}! [[echo]]", series).answers().items()) == [(10, "p!"), (20, "q!")]


def test_format_gives_parsed_objects_and_bad_json_is_that_items_error(session: Session) -> None:
    schema = {"type": "object", "properties": {"label": {"type": "string"}}, "required": ["label"]}
    batch = session.map("{item}", ["good", "bad [[invalid-json]]", "good again"], format=schema)
    results = batch.results
    assert [r.status for r in results] == ["ok", "error", "ok"]
    assert isinstance(results[0].parsed, dict) and "label" in results[0].parsed
    assert "not valid JSON" in (results[1].error or "")
    assert batch.answers()[1] is None and batch.answers()[0] == results[0].parsed


def test_items_stay_outside_the_conversation(session: Session) -> None:
    session.map("{item}", ["a", "b"]).wait()
    assert session.turns == [] and session.history == []


def test_amap_runs_in_the_callers_loop(session: Session) -> None:
    async def main() -> tuple[list[Any], list[ItemResult]]:
        batch = await session.amap("{item} [[echo]]", ["a", "b", "c"], concurrency=2)
        seen = [r.index async for r in batch]
        await batch
        return seen, batch.results

    seen, results = asyncio.run(main())
    assert sorted(seen) == [0, 1, 2]
    assert [r.answer for r in results] == ["a", "b", "c"]


def test_bad_input_is_one_line_errors(session: Session) -> None:
    with pytest.raises(TypeError, match="not one string"):
        session.map("{item}", "abc")
    with pytest.raises(NoModelError):
        Session(host=session.host).map("{item}", [1])
    with pytest.raises(ValueError, match="concurrency"):
        session.map("{item}", [1], concurrency=0)


# -- the record: each item a turn tagged with the batch, outside the conversation ------
def test_each_item_is_a_turn_in_the_record_tagged_with_the_batch(simulator: Simulator, record_db: Any) -> None:
    session = Session(model="llama3.2", host=simulator.url)
    batch = session.map("{item} [[echo]]", ["a", "b [[status=500]]", "c"], concurrency=2)
    batch.wait()
    turns = session.record.log(None, batch=batch.id)
    assert sorted((t.prompt, t.status) for t in turns) == [("a [[echo]]", "done"), ("b [[status=500]] [[echo]]", "error"),
                                                           ("c [[echo]]", "done")]
    assert all(t.batch == batch.id and t.in_context is False and t.session is None for t in turns)
    assert all(t.request_key and t.digest for t in turns)
    assert session.turns == [] and session.history == []


def test_a_batch_learns_the_model_digest_once_per_session_as_the_turns_do(simulator: Simulator, record_db: Any) -> None:
    session = Session(model="llama3.2", host=simulator.url)
    session.generate("hi").read()  # the session's first turn asks /api/tags for the digest
    session.map("{item}", ["a", "b"]).wait()
    second = session.map("{item}", ["c"])
    second.wait()
    assert [r.path for r in simulator.requests].count("/api/tags") == 1
    assert session.record.log(1, batch=second.id)[0].digest == session.record.log(None)[-1].digest


def test_a_new_session_resumes_from_the_record_sending_only_the_missing(simulator: Simulator, record_db: Any) -> None:
    first = start_stopped_batch(Session(model="llama3.2", host=simulator.url), simulator)
    items = [r.prompt for r in first.results]
    before = len(prompts_sent(simulator))
    again = Session(model="llama3.2", host=simulator.url).map("{item}", items, concurrency=3)  # nothing in memory
    assert [r.reused for r in again.results] == [True] * 3 + [False] * 7
    assert sorted(prompts_sent(simulator)[before:]) == sorted(items[3:])
    assert [r.status for r in again.results] == ["ok"] * 10
    forced = Session(model="llama3.2", host=simulator.url).map("{item}", items[:3], cache=False)
    assert [r.reused for r in forced.results] == [False] * 3


def test_an_unforeseen_failure_ends_that_item_with_one_line_not_the_batch(session: Session) -> None:
    results = session.map("{item}", ["a", "b"], stop=object()).results  # an option JSON cannot hold
    assert [r.status for r in results] == ["error", "error"]
    assert all(r.error and r.error.startswith("TypeError: ") and "\n" not in r.error for r in results)


# -- the batch keeps its promises: one request builder, one retry policy, items fail alone ---------------


def test_map_builds_its_requests_as_generate_does(session: Session, simulator: Simulator) -> None:
    batch = session.map("{item}", ["a", "b"], truncate=False, logprobs=True, top_logprobs=2, think=False,
                        keep_alive="5m", temperature=0.1)
    assert [r.status for r in batch.results] == ["ok", "ok"]
    session.generate("c", truncate=False, logprobs=True, top_logprobs=2, think=False, keep_alive="5m",
                     temperature=0.1).read()
    bodies = [r.body for r in simulator.requests if r.path == "/api/generate" and r.body]
    assert len(bodies) == 3
    for body in bodies:  # top-level fields where Ollama reads them, only real options inside options
        assert body["truncate"] is False and body["logprobs"] is True and body["top_logprobs"] == 2
        assert body["think"] is False and body["keep_alive"] == "5m"
        assert body["options"] == {"temperature": 0.1}
    assert {k for k in bodies[0] if k != "prompt"} == {k for k in bodies[2] if k != "prompt"}


def test_a_prompt_function_that_raises_fails_that_item_only(session: Session, simulator: Simulator) -> None:
    def prompt(item: Any) -> str:
        if item == "bad":
            raise ValueError("no prompt for this one\nsecond line")
        return f"say {item}"

    batch = session.map(prompt, ["good", "bad", "fine"])
    results = batch.results
    assert [r.status for r in results] == ["ok", "error", "ok"]
    assert results[1].error == "the prompt could not be made: no prompt for this one"
    assert sorted(prompts_sent(simulator)) == ["say fine", "say good"]  # nothing sent for the failed item
    assert batch.progress().line().startswith("3/3 · 2 ok · 1 failed")


@pytest.mark.parametrize("status", [503, 429])
def test_a_busy_server_gets_at_most_four_sends_per_item(session: Session, simulator: Simulator, status: int) -> None:
    simulator.refuse_next(100, status)
    batch = session.map("{item}", ["one", "two"], concurrency=1)
    results = batch.results
    assert [r.status for r in results] == ["error", "error"]
    assert all(str(status) in (r.error or "") or "busy" in (r.error or "") or "rate" in (r.error or "")
               for r in results), [r.error for r in results]
    assert Counter(prompts_sent(simulator)) == {"one": MAX_SENDS, "two": MAX_SENDS}


def test_busy_then_dropped_still_at_most_four_sends(session: Session, simulator: Simulator) -> None:
    # two 503s (the client retries them), then the answer starts and drops: one more send is left
    batch = session.map("{item}", ["drops [[busy=2]] [[drop-after=2]]"])
    assert [r.status for r in batch.results] == ["error"]
    assert Counter(prompts_sent(simulator))["drops [[busy=2]] [[drop-after=2]]"] == MAX_SENDS


def test_stop_during_the_clients_busy_retries_ends_at_once_as_not_run(session: Session, simulator: Simulator) -> None:
    simulator.refuse_next(1000, 503)  # every send is refused: the client backs off between its retries
    batch = session.map("{item}", ["one", "two", "three"], concurrency=1)
    simulator.wait_for("refused", timeout=10)
    batch.stop()
    assert batch.wait(timeout=10)
    assert [r.status for r in batch.results] == ["not run"] * 3
    assert set(prompts_sent(simulator)) == {"one"}  # the others were never sent
    assert len(prompts_sent(simulator)) <= MAX_SENDS
