"""The local engine's `auto` rule (fttui.core.local_auto): what it picks for the file
sizes the issue measures, that values the user set win, and that it says why."""

from __future__ import annotations

from fttui.core.job_spec import resolve
from fttui.core.local_auto import resolve_local


def test_small_files_train_few_steps_of_small_batches() -> None:
    values, why = resolve_local({}, 300, 300 * 25, "cpu")
    legacy = resolve({}, 300)
    assert (legacy.n_epochs, legacy.batch_size) == (4, 1)  # 1,200 steps: what it replaces
    steps = -(-300 // values.batch_size) * values.n_epochs
    assert steps <= 100 < 1200
    assert (
        values.n_epochs >= 1 and values.learning_rate_multiplier > legacy.learning_rate_multiplier
    )
    assert "300 examples" in why and "local rule" in why and "device cpu" in why


def test_file_sizes_100_300_3000() -> None:
    picked = {n: resolve_local({}, n, n * 25, "cpu")[0] for n in (100, 300, 3000)}
    assert [picked[n].n_epochs for n in (100, 300, 3000)] == sorted(
        (picked[n].n_epochs for n in (100, 300, 3000)), reverse=True
    )
    assert picked[3000].n_epochs == 1
    assert picked[100].batch_size <= picked[300].batch_size <= picked[3000].batch_size <= 32


def test_cpu_token_budget_cuts_epochs_of_long_examples_but_never_below_one() -> None:
    short, _ = resolve_local({}, 100, 100 * 20, "cpu")
    long, why = resolve_local({}, 100, 100 * 400, "cpu")
    assert short.n_epochs > long.n_epochs >= 1
    assert "tokens on CPU" in why
    gpu, _ = resolve_local({}, 100, 100 * 400, "cuda")
    assert gpu.n_epochs == short.n_epochs  # the CPU budget does not apply on a GPU


def test_values_the_user_sets_are_kept_and_the_rest_follow_the_legacy_rule() -> None:
    values, why = resolve_local(
        {"n_epochs": 3, "batch_size": "auto", "learning_rate_multiplier": "auto"}, 300, 9000, "cpu"
    )
    assert values == resolve({"n_epochs": 3}, 300)
    assert values.n_epochs == 3 and values.batch_size == 1
    assert "n_epochs set" in why and "legacy" in why
    assert resolve_local({"batch_size": 500}, 10, 100, "cpu")[0].batch_size == 10


def test_reinforcement_auto_decodes_4_prompts_a_step_for_about_64_steps() -> None:
    from fttui.core.local_auto import resolve_local_rft

    values, why = resolve_local_rft({}, 64)
    assert (values.batch_size, values.n_epochs, values.learning_rate_multiplier) == (4, 4, 0.05)
    assert "64 prompts" in why and "64 here" in why
    # A large file: one epoch; a tiny one: at most its size a step, at most 4 epochs.
    assert resolve_local_rft({}, 1000)[0].n_epochs == 1
    assert (resolve_local_rft({}, 3)[0].batch_size, resolve_local_rft({}, 3)[0].n_epochs) == (3, 4)
    # What the user set wins, and is said to be set.
    mine, why = resolve_local_rft({"batch_size": 8, "n_epochs": "auto"}, 64)
    assert (mine.batch_size, mine.n_epochs) == (8, 4) and "batch_size 8 (set)" in why
