"""Data parallelism: shares of a batch, and what one process leaves alone."""

import pytest
import torch

from stages.common.distributed import BatchShards, DataParallel, buckets, require_even_split, share_bounds
from stages.common.errors import StageError

@pytest.mark.parametrize(("total", "count", "expected"), [(8, 2, [(0, 4), (4, 8)]), (3, 2, [(0, 2), (2, 3)]),
                                                         (7, 3, [(0, 3), (3, 5), (5, 7)])])
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
