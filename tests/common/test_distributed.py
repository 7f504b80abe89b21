"""Data parallelism: shares of a batch, and two processes (gloo, on the CPU) taking the
steps one process takes with the same global batch."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import two_process_runs as runs
from conftest import PROJECT

from stages.common.distributed import (
    BatchShards,
    DataParallel,
    buckets,
    leave_process_group,
    require_even_split,
    share_bounds,
)
from stages.common.errors import StageError

# Float rounding only: the processes sum their gradients in another order than one
# process does. A wrong share of a batch, or a loss weighed per process rather than per
# token, moves the weights by about the learning rate (3e-3), far past it.
TOLERANCE = 1e-5


@pytest.mark.parametrize(
    ("total", "count", "expected"),
    [(8, 2, [(0, 4), (4, 8)]), (3, 2, [(0, 2), (2, 3)]), (7, 3, [(0, 3), (3, 5), (5, 7)])],
)
def test_shares_are_contiguous_cover_the_batch_and_differ_by_one_row_at_most(total, count, expected):
    assert [share_bounds(total, index, count) for index in range(count)] == expected


def test_each_process_takes_its_share_of_every_batch_and_skips_one_too_small_to_share():
    batches = [[5, 1, 7, 3], [2, 8, 6], [4]]
    shares = [list(BatchShards(batches, index, 2)) for index in range(2)]
    assert shares == [[[5, 1], [2, 8]], [[7, 3], [6]]]
    assert list(BatchShards(batches, 0, 1)) == batches


def test_a_batch_that_does_not_split_evenly_is_a_one_line_error_naming_the_param():
    assert require_even_split(16, 4, "sft.batch_size") == 4
    with pytest.raises(StageError, match=r"^sft\.batch_size: 15 does not split over 2 processes"):
        require_even_split(15, 2, "sft.batch_size")


def test_one_process_is_left_alone():
    alone = DataParallel()
    rows = ["a", "b", "c"]
    assert alone.take(rows) is rows and alone.mean({"x": 1.5}) == {"x": 1.5} and alone.is_main
    parameter = torch.nn.Parameter(torch.ones(2))
    alone.average_gradients([parameter])
    assert parameter.grad is None


def test_gradient_buckets_keep_order_and_size():
    tensors = [torch.zeros(n) for n in (3, 4, 10, 1)]
    assert [[t.numel() for t in bucket] for bucket in buckets(tensors, 8)] == [[3, 4], [10], [1]]


@pytest.fixture(scope="module")
def launched(tmp_path_factory, tiny_tokenizer) -> tuple[Path, dict]:
    """runs' SFT and RL computed by two processes under `accelerate launch` with the
    project's configs/accelerate/cpu.yaml."""
    folder = tmp_path_factory.mktemp("two_processes")
    tiny_tokenizer.save_pretrained(folder / "tokenizer")
    torch.save(runs.fixed_rollout(runs.load_tokenizer(folder)), folder / "rollout.pt")
    # One thread each, as in the test's own process below: the same kernels on both sides.
    env = os.environ | {
        "ACCELERATE_USE_CPU": "true",
        "OMP_NUM_THREADS": "1",
        "MASTER_PORT": "29517",
        "PYTHONPATH": os.pathsep.join([str(PROJECT / "tests"), str(PROJECT)]),
    }
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(PROJECT / "configs/accelerate/cpu.yaml"),
        "--main_process_port",
        "29517",
        str(PROJECT / "tests/two_process_runs.py"),
        str(folder),
    ]
    result = subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return folder, torch.load(folder / "launched.pt")


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[name] - b[name]).abs().max()) for name in a)


@pytest.mark.slow
def test_two_processes_train_sft_to_the_weights_of_one_with_the_same_global_batch(launched, one_thread):
    folder, two = launched
    assert two["processes"] == 2
    weights, evaluations = runs.sft_run(runs.load_tokenizer(folder))
    start = runs.tiny_lm(runs.load_tokenizer(folder)).state_dict()
    assert max_difference(weights, start) > 100 * TOLERANCE  # it did train
    assert max_difference(two["sft"], weights) < TOLERANCE
    assert two["sft_evaluations"] == evaluations


@pytest.mark.slow
def test_two_processes_take_the_rl_update_of_one_with_the_same_global_batch(launched, one_thread):
    folder, two = launched
    weights, metrics = runs.rl_run(runs.load_tokenizer(folder), torch.load(folder / "rollout.pt"), DataParallel())
    start = runs.tiny_lm(runs.load_tokenizer(folder)).state_dict()
    assert max_difference(weights, start) > 100 * TOLERANCE
    assert max_difference(two["rl"], weights) < TOLERANCE
    for name in ("rl/loss", "rl/policy_loss", "rl/ref_nll", "rl/kl", "rl/reward_mean", "rl/grad_norm"):
        assert two["rl_metrics"][name] == pytest.approx(metrics[name], abs=1e-5), name


def test_a_process_leaves_the_group_it_joined_and_alone_has_nothing_to_leave(tmp_path):
    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    assert torch.distributed.is_initialized()
    leave_process_group()
    assert not torch.distributed.is_initialized()
    leave_process_group()  # never joined (run directly): nothing to do, no error
