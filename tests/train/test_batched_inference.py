"""Batched decoding (fttui.train.inference.Batcher) gives every prompt the answer it
gets alone: same greedy text, finish reason, token count and logprobs, with stop
sequences and prompts of different lengths in one batch. The tiny model, in-process."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path

import pytest

from fttui.train.inference import InferenceEngine, Sampling


@pytest.fixture(scope="module")
def engines(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path
) -> tuple[InferenceEngine, InferenceEngine]:
    from fttui.store import Store

    data = tmp_path_factory.mktemp("batched")
    (data / "models.json").write_text(
        json.dumps({"models": [{"id": "tiny", "source": str(tiny_model_dir)}]})
    )
    store = Store(data)
    one = InferenceEngine(store, max_batch=1)
    many = InferenceEngine(store, max_batch=8)
    one._cache["tiny"] = many.load("tiny")
    return one, many


def _prompts(n: int) -> list[str]:
    rng = random.Random(3)
    words = ["the", "cat", "dog", "sat", "on", "a", "mat", "and", "ran", "far", "away", "quickly"]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(1, 25))) for _ in range(n)]


def test_batched_answers_equal_one_at_a_time(engines) -> None:
    one, many = engines
    sampling = Sampling(max_tokens=12, temperature=0, stop=("dog", "a m"), logprobs=2)
    prompts = _prompts(12)  # more than max_batch: two batches, rows leaving early
    alone = [one.generate(one.prepare_completion("tiny", p, 12), sampling) for p in prompts]
    together = many.generate_many(
        [(many.prepare_completion("tiny", p, 12), sampling, 0, 0) for p in prompts]
    )
    assert {g.finish_reason for g in alone} >= {"length"}
    for a, b in zip(alone, together, strict=True):
        assert (a.text, a.finish_reason, a.completion_tokens) == (
            b.text,
            b.finish_reason,
            b.completion_tokens,
        )
        assert [t.token for t in a.tokens] == [t.token for t in b.tokens]
        assert [t.logprob for t in a.tokens] == pytest.approx(
            [t.logprob for t in b.tokens], abs=1e-4
        )


def test_concurrent_requests_share_batches_and_get_their_own_answers(engines) -> None:
    one, many = engines
    sampling = Sampling(max_tokens=8, temperature=0)
    prompts = _prompts(8)
    want = [one.generate(one.prepare_completion("tiny", p, 8), sampling).text for p in prompts]
    got: dict[int, str] = {}
    sizes: list[int] = []
    run = many.batcher._run

    def spy(rows):  # records each batch's size, then runs it
        sizes.append(len(rows))
        return run(rows)

    many.batcher._run = spy  # type: ignore[method-assign]
    try:
        threads = [
            threading.Thread(
                target=lambda k=k: got.__setitem__(
                    k, many.generate(many.prepare_completion("tiny", prompts[k], 8), sampling).text
                )
            )
            for k in range(len(prompts))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        many.batcher._run = run  # type: ignore[method-assign]
    assert [got[k] for k in range(len(prompts))] == want
    assert max(sizes) > 1, sizes  # requests that waited together were decoded together


def test_sample_gives_n_answers_per_prompt(engines) -> None:
    _, many = engines
    out = many.sample("tiny", _prompts(3), n=4, temperature=1.0, max_tokens=5, seed=11)
    assert [len(row) for row in out] == [4, 4, 4]
    again = many.sample("tiny", _prompts(3), n=4, temperature=1.0, max_tokens=5, seed=11)
    assert [[g.text for g in row] for row in out] == [[g.text for g in row] for row in again]
    greedy = many.sample("tiny", _prompts(3), n=2, temperature=0, max_tokens=5)
    assert all(row[0].text == row[1].text for row in greedy)
