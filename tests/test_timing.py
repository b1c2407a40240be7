"""Timing: the server's nanoseconds turned into seconds once, plus client-side readings.

The same over a real socket (compared with the raw final line the simulator sent) is in
test_reply.py.
"""

from __future__ import annotations

import json

import pytest

from ollama_nb import Timing

FINAL_STATS = {  # a real final line's statistics (ollama docs, api.md "Generate request (Streaming)")
    "total_duration": 10706818083,
    "load_duration": 6338219291,
    "prompt_eval_count": 26,
    "prompt_eval_duration": 130079000,
    "eval_count": 259,
    "eval_duration": 4232710000,
}


def test_server_nanoseconds_become_seconds_and_counts_stay_integers() -> None:
    t = Timing.from_stats(FINAL_STATS, ttft_s=0.5, wall_s=11.0)
    assert t.server_total_s == pytest.approx(10.706818083)
    assert t.load_s == pytest.approx(6.338219291)
    assert t.prompt_eval_s == pytest.approx(0.130079)
    assert t.eval_s == pytest.approx(4.23271)
    assert (t.prompt_tokens, t.output_tokens) == (26, 259)
    assert t.tokens_per_s == pytest.approx(259 / 4.23271)
    assert (t.ttft_s, t.wall_s, t.estimated) == (0.5, 11.0, False)


def test_without_a_final_line_tokens_per_second_is_estimated_from_the_client_clock() -> None:
    t = Timing.from_stats(None, ttft_s=1.0, wall_s=3.0, chunks=5)
    assert t.estimated is True
    assert t.output_tokens == 5
    assert t.tokens_per_s == pytest.approx((5 - 1) / (3.0 - 1.0))
    assert t.eval_s is None and t.server_total_s is None and t.prompt_tokens is None


def test_an_estimate_needs_two_chunks_and_a_positive_span() -> None:
    assert Timing.from_stats(None, ttft_s=1.0, wall_s=3.0, chunks=1).tokens_per_s is None
    assert Timing.from_stats(None, ttft_s=1.0, wall_s=1.0, chunks=4).tokens_per_s is None
    assert Timing.from_stats(None, ttft_s=None, wall_s=1.0, chunks=4).tokens_per_s is None
    nothing = Timing.from_stats({}, ttft_s=None, wall_s=None)
    assert nothing.output_tokens is None and nothing.tokens_per_s is None


def test_zero_eval_duration_gives_no_rate_instead_of_dividing_by_zero() -> None:
    t = Timing.from_stats({"eval_count": 3, "eval_duration": 0}, ttft_s=None, wall_s=None)
    assert t.output_tokens == 3 and t.tokens_per_s is None and t.estimated is False


@pytest.mark.parametrize("bad", [True, "12", None, [1], {"n": 1}])
def test_non_numeric_statistics_are_ignored(bad: object) -> None:
    stats = {key: bad for key in FINAL_STATS}
    t = Timing.from_stats(stats, ttft_s=0.1, wall_s=0.2, chunks=0)
    assert t.server_total_s is None and t.load_s is None and t.eval_s is None
    assert t.prompt_tokens is None and t.output_tokens is None


def test_as_dict_is_json_ready_and_from_dict_inverts_it() -> None:
    t = Timing.from_stats(FINAL_STATS, ttft_s=0.25, wall_s=11.0)
    data = json.loads(json.dumps(t.as_dict()))
    assert Timing.from_dict(data) == t


def test_from_dict_ignores_unknown_keys() -> None:
    assert Timing.from_dict({"ttft_s": 0.1, "from_the_future": 1}) == Timing(ttft_s=0.1)


def test_timing_is_frozen() -> None:
    with pytest.raises(AttributeError):
        Timing().ttft_s = 1.0  # type: ignore[misc]


def test_summary_is_one_short_line() -> None:
    t = Timing.from_stats({"eval_count": 40, "eval_duration": 800_000_000}, ttft_s=0.2, wall_s=1.1)
    assert t.summary() == "first token 0.20 s · 40 tokens · 50.0 tok/s · 1.10 s"
    estimated = Timing.from_stats(None, ttft_s=1.0, wall_s=3.0, chunks=5)
    assert "~2.0 tok/s" in estimated.summary()
    assert Timing().summary() == ""
