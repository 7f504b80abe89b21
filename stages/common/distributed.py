"""Data parallelism: each process's share of a batch, and how the processes agree.

Under `accelerate launch` (torchrun underneath) every process reads the same params and
data and draws the same global batch, then keeps its own contiguous share of it. The
processes then agree on what one process would have computed: gradients are averaged,
figures are averaged, decisions (a blow-up, early stopping) are taken on the same
numbers. So a run on N processes takes the steps one process takes with the same global
batch, up to float rounding. In one process (the default) everything here is the
identity: no process group, no waiting.
"""

import contextlib
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Sampler

from stages.common.errors import StageError

Item = TypeVar("Item")

# Gradients are averaged in flat buckets of this many elements: few collectives, and a
# bounded extra buffer (128 MB of fp32) whatever the model's size.
BUCKET_ELEMENTS = 1 << 25


def launched_processes() -> int:
    """How many processes torchrun (accelerate launch) started; 1 when run directly."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def leave_process_group() -> None:
    """Leave the process group a launched process joined, as PyTorch asks each process to
    at its end: one that exits still in it may abort in gloo's threads while the
    interpreter tears down (SIGABRT, "terminate called without an active exception"),
    and torchrun then fails the launch though its work is done. Alone: nothing to leave."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def on_cpus_only() -> bool:
    """Whether the processes run on CPUs (gloo). accelerate runs each torchrun process
    alone on a machine without a GPU unless it is told cpu=True, so say it for it."""
    forced = os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes")
    return forced or not torch.cuda.is_available()


def share_bounds(total: int, index: int, count: int) -> tuple[int, int]:
    """[start, stop) of process `index`'s contiguous share of `total` rows; the first
    total % count processes take one row more."""
    size, extra = divmod(total, count)
    start = index * size + min(index, extra)
    return start, start + size + (1 if index < extra else 0)


def require_even_split(size: int, processes: int, key: str) -> int:
    """The per-process share of a global batch; a batch that does not split evenly is an error
    naming its param, since uneven shares would weigh some rows more than others."""
    if size % processes:
        raise StageError(f"{key}: {size} does not split over {processes} processes; make it a multiple of {processes}")
    return size // processes


class BatchShards(Sampler):
    """This process's contiguous share of every batch the wrapped batch sampler draws.

    The global batch stays what one process would draw (batch_size rows, in the same
    order), which accelerate's own sharding does not give: by default it hands each
    process whole batches (the global batch grows with the processes), and with
    split_batches it drops every batch shorter than batch_size. A batch of fewer rows
    than processes (the end of a chunk, rarely) is skipped in a multi-process run: some
    process would get nothing to do.
    """

    def __init__(self, batches: Iterable[list[int]], index: int, count: int):
        self.batches, self.index, self.count = batches, index, count

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.batches:
            if len(batch) < self.count:
                continue
            start, stop = share_bounds(len(batch), self.index, self.count)
            yield batch[start:stop]


def sharded_loader(loader: DataLoader, index: int, count: int) -> DataLoader:
    """The same loader, drawing this process's share of each of its batches."""
    if count == 1:
        return loader
    return DataLoader(
        loader.dataset,
        batch_sampler=BatchShards(loader.batch_sampler, index, count),
        collate_fn=loader.collate_fn,
        num_workers=loader.num_workers,
    )


@dataclass(frozen=True)
class DataParallel:
    """This process's place among the launched ones, and the collectives RL needs.

    RL keeps its models replicated (whole on every process, as DDP does) and averages
    the gradients itself: its step mixes sampling, several forward passes and a check
    before the update, which DDP's one-forward-one-backward contract does not fit.
    """

    index: int = 0
    count: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @classmethod
    def start(cls) -> "DataParallel":
        """Join the process group torchrun set up; alone, touch nothing."""
        if launched_processes() == 1:
            return cls()
        from accelerate import PartialState

        state = PartialState(cpu=on_cpus_only())
        device = torch.device("cpu") if state.device.type == "cpu" else state.device
        return cls(state.process_index, state.num_processes, device)

    @property
    def is_main(self) -> bool:
        return self.index == 0

    def take(self, items: Sequence[Item]) -> Sequence[Item]:
        """This process's contiguous share of a global batch."""
        if self.count == 1:
            return items
        start, stop = share_bounds(len(items), self.index, self.count)
        return items[start:stop]

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """Each figure averaged over the processes (a NaN anywhere is a NaN everywhere)."""
        if self.count == 1:
            return values
        names = list(values)
        tensor = torch.tensor([float(values[name]) for name in names], dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return dict(zip(names, (tensor / self.count).tolist(), strict=True))

    def mean_of(self, value: float) -> float:
        return self.mean({"value": value})["value"]

    def average_gradients(self, parameters: Iterable[torch.Tensor]) -> None:
        """What DDP does after backward: every gradient becomes the mean of the processes'.
        A parameter no loss reached counts as a zero gradient, so every process sends
        the same buffers."""
        if self.count == 1:
            return
        by_kind: dict[tuple, list[torch.Tensor]] = defaultdict(list)
        for parameter in parameters:
            if not parameter.requires_grad:
                continue
            if parameter.grad is None:
                parameter.grad = torch.zeros_like(parameter)
            by_kind[(parameter.grad.dtype, parameter.grad.device)].append(parameter.grad)
        for grads in by_kind.values():
            for bucket in buckets(grads, BUCKET_ELEMENTS):
                flat = torch.cat([grad.reshape(-1) for grad in bucket])
                dist.all_reduce(flat)
                flat /= self.count
                offset = 0
                for grad in bucket:
                    grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
                    offset += grad.numel()

    def broadcast_parameters(self, parameters: Iterable[torch.Tensor]) -> None:
        """Start every process from the main process's weights, as DDP does."""
        if self.count == 1:
            return
        with torch.no_grad():
            for parameter in parameters:
                dist.broadcast(parameter.data, src=0)


def buckets(tensors: list[torch.Tensor], limit: int) -> Iterator[list[torch.Tensor]]:
    """Consecutive groups of tensors of at most `limit` elements (a larger tensor alone)."""
    bucket: list[torch.Tensor] = []
    size = 0
    for tensor in tensors:
        if bucket and size + tensor.numel() > limit:
            yield bucket
            bucket, size = [], 0
        bucket.append(tensor)
        size += tensor.numel()
    if bucket:
        yield bucket


class SilentLive:
    """Stands in for dvclive.Live on the processes that are not the main one: only the
    main process writes curves."""

    step = 0

    def log_metric(self, name: str, value: float) -> None:
        pass

    def next_step(self) -> None:
        pass


def on_main_process(is_main: bool, open_context: Callable[[], contextlib.AbstractContextManager], otherwise=None):
    """open_context() on the main process; elsewhere a context that yields `otherwise` and
    creates nothing (no output folder, no curves)."""
    return open_context() if is_main else contextlib.nullcontext(otherwise)
