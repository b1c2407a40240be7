"""``ollama_nb.ray`` on a local Ray (``num_cpus=2``, one per test session) against real simulator
sockets: Parquet in and out with the columns kept, two hosts both used and the concurrency per host
counted at the servers, stop closing every stream and resume sending exactly the missing rows, a
failing item and a dead host. Skipped only when the ``ray`` extra is absent (CI installs it)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterator

import pytest

pytest.importorskip("ray")
pytest.importorskip("pyarrow")

import pandas  # noqa: E402
import ray  # noqa: E402
from test_batch import free_port_url, most_streams_at_once, prompts_sent  # noqa: E402

from ollama_nb.simulator import Simulator  # noqa: E402

pytestmark = pytest.mark.timeout(400)  # the first test starts Ray: 5 s idle, up to minutes on a loaded machine

MODEL = "llama3.2"


@pytest.fixture(scope="session")
def local_ray(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One local Ray for the whole test session (3-5 s to start), shut down at the end."""
    from ollama_nb.ray import start_ray

    started = not ray.is_initialized()
    start_ray(num_cpus=2)
    try:
        yield
    finally:
        if started:
            ray.shutdown()


@pytest.fixture
def onb_ray(local_ray: None):  # type: ignore[no-untyped-def]
    import ollama_nb.ray

    return ollama_nb.ray


@pytest.fixture
def two_hosts() -> Iterator[tuple[Simulator, Simulator]]:
    with Simulator(port=0) as a, Simulator(port=0) as b:
        yield a, b


def parquet_of(tmp_path: Path, rows: int, text: str = "row {i} [[echo]] [[tokens=4]]") -> Path:
    path = tmp_path / "input.parquet"
    pandas.DataFrame({"id": list(range(rows)), "text": [text.format(i=i) for i in range(rows)]}).to_parquet(path)
    return path


def generate_count(sim: Simulator) -> int:
    return len(prompts_sent(sim))


def open_streams(sim: Simulator) -> int:
    """Requests to /api/generate that neither completed nor were closed (0 when all ended)."""
    kinds = Counter(e.kind for e in sim.events if e.path == "/api/generate")
    return kinds["request"] - kinds["complete"] - kinds["disconnect"] - kinds["drop"]


def test_parquet_in_parquet_out_over_two_hosts_within_the_concurrency(onb_ray, two_hosts, tmp_path: Path) -> None:
    a, b = two_hosts
    source = parquet_of(tmp_path, 48, "row {i} [[echo]] [[delay=0.01]]")
    job = onb_ray.run(source, "{item.text}", tmp_path / "out", model=MODEL, hosts=[a.url, b.url], concurrency=2)
    assert job.wait(120)
    assert job.error is None
    out = job.to_pandas()
    assert list(out.columns) == ["id", "text", *onb_ray.ANSWER_FIELDS]
    assert len(out) == 48 and set(out["status"]) == {"ok"}
    for row in out.itertuples():  # each row kept its own input columns with its own answer
        assert row.answer == f"row {row.id}", row
    assert out["request_key"].nunique() == 48
    assert generate_count(a) > 0 and generate_count(b) > 0  # both hosts did work
    assert generate_count(a) + generate_count(b) == 48  # each row sent once
    assert Counter(prompts_sent(a) + prompts_sent(b)) == Counter(f"row {i} [[echo]] [[delay=0.01]]"
                                                                 for i in range(48))
    assert most_streams_at_once(a) <= 2 and most_streams_at_once(b) <= 2
    p = job.progress()
    assert (p.done, p.ok, p.failed, p.not_run, p.finished) == (48, 48, 0, 0, True)
    assert set(out["host"]) == {a.url, b.url}


def test_stop_closes_every_stream_and_resume_sends_exactly_the_missing_rows(onb_ray, two_hosts, tmp_path: Path) -> None:
    a, b = two_hosts
    source = parquet_of(tmp_path, 40, "row {i} [[tokens=30]] [[delay=0.02]]")  # ~0.6 s per row
    out_dir = tmp_path / "out"
    job = onb_ray.run(source, "{item.text}", out_dir, model=MODEL, hosts=[a.url, b.url], concurrency=2)
    while job.progress().ok < 4:
        assert not job.wait(0.1), "the job ended before it was stopped"
    job.stop()
    assert job.wait(60)
    first = job.to_pandas()
    assert len(first) == 40
    ok_first = set(first.loc[first["status"] == "ok", "id"])
    assert 4 <= len(ok_first) < 40 and set(first["status"]) <= {"ok", "not run"}
    assert open_streams(a) == 0 and open_streams(b) == 0  # every stream ended: completed or closed
    closed = sum(1 for sim in (a, b) for e in sim.events if e.kind == "disconnect")
    assert closed >= 1  # the stop closed the streams that were open
    sent_before = Counter(prompts_sent(a) + prompts_sent(b))
    workers = {host: repr(actor) for host, actor in onb_ray.start_hosts([a.url, b.url]).items()}

    again = onb_ray.run(source, "{item.text}", out_dir, model=MODEL, hosts=[a.url, b.url], concurrency=2)
    assert again.wait(120)
    sent_after = Counter(prompts_sent(a) + prompts_sent(b)) - sent_before
    assert sent_after == Counter(f"row {i} [[tokens=30]] [[delay=0.02]]" for i in range(40) if i not in ok_first)
    assert again.progress().reused == len(ok_first)
    # the host workers the first job started served the second one too (started once per driver)
    assert {host: repr(actor) for host, actor in onb_ray.start_hosts([a.url, b.url]).items()} == workers
    final = again.to_pandas()
    assert len(final) == 40 and set(final["status"]) == {"ok"}
    assert sorted(final["id"]) == list(range(40))

    edited = onb_ray.run(source, "{item.text} (edited)", out_dir, model=MODEL, hosts=[a.url], concurrency=2)
    assert edited.wait(120)
    assert edited.progress().reused == 0 and edited.progress().ok == 40  # another prompt is sent again


def test_a_failing_item_fails_alone_and_a_host_down_from_the_start_leaves_the_rotation(
        onb_ray, simulator: Simulator, tmp_path: Path) -> None:
    texts = [f"row {i} [[echo]]" for i in range(20)]
    texts[7] = "row 7 [[error-after=1]]"
    texts[11] = "row 11 [[busy=2]] [[echo]]"  # 503 twice, then answered: retried, not failed
    frame = pandas.DataFrame({"id": list(range(20)), "text": texts})
    dead = free_port_url()
    job = onb_ray.run(frame, "{item.text}", tmp_path / "out", model=MODEL, hosts=[simulator.url, dead])
    assert job.wait(120)
    assert job.error is None
    out = job.to_pandas().set_index("id")
    assert sorted(out.index) == list(range(20))  # no row lost
    assert out.loc[7, "status"] == "error" and out.loc[7, "error"]
    assert "\n" not in out.loc[7, "error"]
    others = out.drop(index=7)
    assert set(others["status"]) == {"ok"} and set(others["host"]) == {simulator.url}
    assert out.loc[11, "answer"].startswith("row 11")
    assert generate_count(simulator) == 20 + 2  # every row once, row 11 twice more (the 503s)
    figures = {f["host"]: f for f in job.host_figures()}
    assert figures[simulator.url]["in_rotation"] is True
    # the second block always goes to the dead host's worker (the least loaded): it gives its rows back
    assert figures[dead]["in_rotation"] is False and "127.0.0.1" in figures[dead]["last_error"]
    p = job.progress()
    assert (p.done, p.ok, p.failed, p.not_run) == (20, 19, 1, 0)


def test_a_host_that_dies_mid_job_hands_its_rows_to_the_other(onb_ray, tmp_path: Path) -> None:
    source = parquet_of(tmp_path, 60, "row {i} [[echo]] [[delay=0.05]]")  # ~0.3 s per row
    with Simulator(port=0) as a:
        b = Simulator(port=0).start()
        try:
            job = onb_ray.run(source, "{item.text}", tmp_path / "out", model=MODEL, hosts=[a.url, b.url],
                              concurrency=2)
            while sum(1 for e in b.events if e.kind == "complete") < 3:
                assert not job.wait(0.1), "the job ended before the host died"
        finally:
            b.stop()  # every open connection closed, the port refuses from now on
        assert job.wait(180)
        assert job.error is None
        out = job.to_pandas()
        assert sorted(out["id"]) == list(range(60))  # no row lost
        assert set(out["status"]) == {"ok"}, out[out["status"] != "ok"][["id", "status", "error"]]
        for row in out.itertuples():
            assert row.answer == f"row {row.id}"
        answered_by_b = set(out.loc[out["host"] == b.url, "id"])
        assert len(answered_by_b) >= 3  # what it answered before it died is kept
        assert generate_count(a) == 60 - len(answered_by_b)  # the rest went to the host still up
        figures = {f["host"]: f for f in job.host_figures()}
        assert figures[b.url]["in_rotation"] is False and figures[a.url]["in_rotation"] is True


def test_the_rows_go_to_the_sessions_record_where_the_batch_cache_finds_them(onb_ray, simulator: Simulator,
                                                                            tmp_path: Path, record_db: Path,
                                                                            monkeypatch) -> None:
    import sqlite3

    from ollama_nb import Session
    from ollama_nb.ray import _record

    texts = [f"row {i} [[echo]]" for i in range(12)]
    texts[5] = "row 5 [[error-after=1]]"
    frame = pandas.DataFrame({"id": list(range(12)), "text": texts})
    job = onb_ray.run(frame, "{item.text}", tmp_path / "out", model=MODEL, hosts=[simulator.url])
    path = record_db  # a real SQLite file (OLLAMA_NB_DB points at it)
    session = Session(model=MODEL, host=simulator.url, record=path)
    assert job.record_to(session) == 12
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT prompt, status, host, request_key, batch, text, in_context FROM turns").fetchall()
    assert len(rows) == 12
    assert sorted(r[0] for r in rows) == sorted(texts)
    assert Counter(r[1] for r in rows) == {"done": 11, "error": 1}
    assert {r[2] for r in rows} == {simulator.url} and {r[4] for r in rows} == {job.id}
    assert all(r[3] for r in rows) and len({r[3] for r in rows}) == 12
    assert {r[0]: r[5] for r in rows}["row 3 [[echo]]"] == "row 3" and {r[6] for r in rows} == {0}

    sent_before = generate_count(simulator)
    batch = session.map("{item.text}", frame, hosts=[simulator.url], cache=True)
    batch.wait()
    assert batch.progress().reused == 11  # the batch's cache found every ok row under the same key
    assert prompts_sent(simulator)[sent_before:] == ["row 5 [[error-after=1]]"]  # the failed one is sent again

    monkeypatch.setattr(_record, "RECORD_ROWS", 5)  # above the threshold: the Parquet is the record
    big = onb_ray.run(frame, "{item.text} again", tmp_path / "out2", model=MODEL, hosts=[simulator.url])
    assert big.record_to(session) is None
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM turns WHERE batch = ?", (big.id,)).fetchone() == (0,)


def test_map_adds_the_answer_columns_to_a_dataset_of_your_own(onb_ray, simulator: Simulator) -> None:
    ds = ray.data.from_items([{"word": w} for w in ("red", "green", "blue")])
    out = onb_ray.map(ds, "Colour {item.word} [[echo]]", model=MODEL, hosts=simulator.url).to_pandas()
    assert list(out.columns) == ["word", *onb_ray.ANSWER_FIELDS]
    assert set(out["status"]) == {"ok"}, out[["status", "error"]]
    assert sorted(out["answer"]) == ["Colour blue", "Colour green", "Colour red"]


def test_bad_input_is_one_clear_error(onb_ray, simulator: Simulator, tmp_path: Path) -> None:
    with pytest.raises(onb_ray.RayJobError, match="answer"):
        onb_ray.run(pandas.DataFrame({"answer": ["x"]}), "{item.answer}", tmp_path / "o", model=MODEL,
                    hosts=simulator.url)
    with pytest.raises(onb_ray.RayJobError, match="Parquet path"):
        onb_ray.run(42, "{item}", tmp_path / "o", model=MODEL, hosts=simulator.url)
    not_parquet = tmp_path / "notes.parquet"
    not_parquet.write_text("not a Parquet file\n")
    for path in (not_parquet, tmp_path / "missing.parquet"):
        with pytest.raises(onb_ray.RayJobError, match="cannot read .* as Parquet"):
            onb_ray.run(path, "{item}", tmp_path / "o", model=MODEL, hosts=simulator.url)
    with pytest.raises(onb_ray.RayJobError, match="cannot read the DataFrame"):  # no Arrow type for the column
        onb_ray.run(pandas.DataFrame({"text": [1, "a"]}), "{item.text}", tmp_path / "o", model=MODEL,
                    hosts=simulator.url)


@pytest.mark.timeout(600)
def test_the_cell_magic_runs_the_template_on_ray_in_a_real_kernel(local_ray, simulator: Simulator, tmp_path: Path,
                                                                  record_db: Path) -> None:
    from kernel_client import KernelSession

    out_dir = tmp_path / "cell-out"
    address = ray.get_runtime_context().gcs_address  # the kernel joins this session's Ray: one Ray on the machine
    with KernelSession("onb-k7") as kernel:
        kernel.check(f"import ray; ray.init(address={address!r}, log_to_driver=False)", timeout=120)
        kernel.check("%load_ext ollama_nb\n"
                     f'%config OllamaMagics.host = "{simulator.url}"\n'
                     '%config OllamaMagics.model = "llama3.2"\n'
                     "import pandas\n"
                     "words = pandas.DataFrame({'w': ['alpha', 'beta', 'gamma', 'delta']})\n"
                     "style = 'plain'")
        run = kernel.check(f"%%ollama --over words --ray {out_dir} -o got\nword {{item.w}} in {{style}} [[echo]]",
                           timeout=300)
        markdown = [o["data"].get("text/markdown", "") for o in run.outputs if o["output_type"] == "display_data"]
        assert any("4/4 · 4 ok · 0 failed" in m for m in markdown), markdown
        assert f"Answers written as Parquet to {out_dir}" in run.stdout
        check = kernel.check("print(sorted(got['answer']))\nprint(sorted(set(got['status'])))\n"
                             "import ollama_nb\n"
                             "print(sorted(t.text for t in ollama_nb.get_session().log(None) "
                             "if (t.batch or '').startswith('ray-')))")
    answers, statuses, recorded = check.stdout.strip().splitlines()
    assert recorded == answers  # the driver wrote one row per item to the session's record
    assert answers == str([f"word {w} in plain" for w in ("alpha", "beta", "delta", "gamma")])
    assert statuses == "['ok']"
    words = ("alpha", "beta", "delta", "gamma")
    assert sorted(prompts_sent(simulator)) == sorted(f"word {w} in plain [[echo]]" for w in words)


def test_import_ollama_nb_and_its_magics_never_imports_ray() -> None:
    import json
    import subprocess
    import sys

    code = "import json, sys, ollama_nb, ollama_nb.magics; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    loaded = {m.split(".")[0] for m in json.loads(done.stdout)}
    assert not loaded & {"ray", "pyarrow"}
