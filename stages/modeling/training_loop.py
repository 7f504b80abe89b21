"""The one optimisation loop SFT and the reward model share, under accelerate.

AdamW, linear warmup then cosine decay, gradient accumulation and clipping, an
evaluation every `eval_every` steps that keeps the best checkpoint, early stopping
after `patience` evaluations without improvement. accelerate makes the same loop run
on a CPU, one GPU or many (DDP, DeepSpeed ZeRO, FSDP: docs/scale.md). A non-finite loss
stops the stage with a clear error before anything is saved over the previous model.

On N processes each takes its share of every batch (stages/common/distributed.py), so the
global batch is the param's batch_size and each process holds batch_size / N; each
weighs its loss by its share of the batch's items (story tokens, pairs), so that the
averaged gradient is the one-process gradient. Evaluation, saving and the curves are
the main process's; the others wait for its figures, so every process stops together.
"""

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, DistributedType, broadcast_object_list
from torch.utils.data import DataLoader
from transformers import get_cosine_schedule_with_warmup

from stages.common.config import OptimConfig
from stages.common.distributed import launched_processes, on_cpus_only, sharded_loader
from stages.common.errors import StageError
from stages.common.progress import progress_bar
from stages.modeling.adapters import is_lora

Batch = dict[str, torch.Tensor]


@dataclass(frozen=True)
class FitResult:
    steps: int
    best_step: int
    best_value: float
    train_tokens: int
    seconds: float

    @property
    def tokens_per_s(self) -> float:
        return self.train_tokens / self.seconds if self.seconds else float("nan")

    def metrics(self, prefix: str) -> dict[str, float]:
        """How the run went, under the stage's prefix; the best value goes under its own name."""
        return {
            f"{prefix}/best_step": self.best_step,
            f"{prefix}/steps": self.steps,
            f"{prefix}/tokens_per_s": self.tokens_per_s,
            f"{prefix}/seconds": self.seconds,
        }


class BestTracker:
    """Remembers the best evaluation and says when patience has run out."""

    def __init__(self, higher_is_better: bool, patience: int):
        self.sign = 1.0 if higher_is_better else -1.0
        self.patience = patience
        self.best_value = -math.inf if higher_is_better else math.inf
        self.best_step = 0
        self.evaluations_since_best = 0

    def update(self, value: float, step: int) -> bool:
        improved = self.sign * value > self.sign * self.best_value
        if improved:
            self.best_value, self.best_step, self.evaluations_since_best = value, step, 0
        else:
            self.evaluations_since_best += 1
        return improved

    @property
    def exhausted(self) -> bool:
        return self.patience > 0 and self.evaluations_since_best >= self.patience


def accelerator_for(config: OptimConfig) -> Accelerator:
    return Accelerator(
        mixed_precision="no" if config.mixed_precision == "fp32" else config.mixed_precision,
        gradient_accumulation_steps=config.grad_accum,
        # The global batch is split over the processes (see BatchShards), not multiplied
        # by them: accelerate then steps the lr schedule once per update, not N times.
        dataloader_config=DataLoaderConfiguration(split_batches=True),
        cpu=launched_processes() > 1 and on_cpus_only(),
    )


def batch_rows(batch: Batch) -> torch.Tensor:
    return torch.tensor(batch["attention_mask"].size(0))


def on_device(batch: Batch, device: torch.device) -> Batch:
    return {name: tensor.to(device) for name, tensor in batch.items()}


def weighted_loss(
    accelerator: Accelerator, loss: torch.Tensor, items: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(the loss to back-propagate, the global batch's loss to report and check).

    A process's loss is a mean over its items; weighted by items * N / all items, the
    gradients' average over the N processes is the gradient of the mean over all items.
    """
    if accelerator.num_processes == 1:
        return loss, loss.detach()
    items = torch.as_tensor(items, dtype=torch.float32, device=loss.device)
    weight = items * accelerator.num_processes / accelerator.reduce(items, "sum")
    weighted = loss * weight
    return weighted, accelerator.reduce(weighted.detach(), "sum") / accelerator.num_processes


def shards_weights(accelerator: Accelerator) -> bool:
    """Whether no process holds whole weights (ZeRO-3, FSDP): they must be gathered to use them."""
    plugin = accelerator.state.deepspeed_plugin
    return accelerator.distributed_type == DistributedType.FSDP or (plugin is not None and plugin.zero_stage == 3)


@contextlib.contextmanager
def whole_model(accelerator: Accelerator, model: torch.nn.Module):
    """The model with whole weights on the main process, None on the others; every
    process must enter it. Where the weights are sharded, a copy is gathered (one more
    copy of the weights on the main process, for the evaluation)."""
    unwrapped = accelerator.unwrap_model(model)
    if not shards_weights(accelerator):
        yield unwrapped if accelerator.is_main_process else None
        return
    state = accelerator.get_state_dict(model)  # a collective: every process takes part
    if not accelerator.is_main_process:
        yield None
        return
    with torch.device(accelerator.device):
        copy = type(unwrapped)(unwrapped.config)
    copy.load_state_dict(state)
    yield copy.eval()


def main_process_values(accelerator: Accelerator, values: dict[str, float] | None) -> dict[str, float]:
    """The main process's figures on every process, so all take the same decisions."""
    if accelerator.num_processes == 1:
        return values
    return broadcast_object_list([values], from_process=0)[0]


def endless(loader: DataLoader) -> Iterator[Batch]:
    """Epoch after epoch; an empty loader would otherwise spin for ever."""
    if len(loader) == 0:
        raise ValueError("the training loader holds no batches")
    while True:
        yield from loader


def fit(
    *,
    model: torch.nn.Module,
    loader: DataLoader,
    loss_of: Callable[[torch.nn.Module, Batch], torch.Tensor],
    evaluate: Callable[[torch.nn.Module], dict[str, float]],
    monitor: str,
    higher_is_better: bool,
    on_best: Callable[[torch.nn.Module, int], None],
    config: OptimConfig,
    accelerator: Accelerator,
    live,
    prefix: str,
    items_of: Callable[[Batch], torch.Tensor] = batch_rows,
) -> FitResult:
    """Train until max_steps or patience runs out; call on_best with each new best model.

    items_of(batch): how many items the batch's loss is a mean over (rows by default),
    which weighs each process's loss in a multi-process run.
    """
    main = accelerator.is_main_process
    if shards_weights(accelerator) and is_lora(model):
        raise StageError(
            f"{prefix}: model.lora trains too few weights to need ZeRO-3 or FSDP; "
            "run LoRA data-parallel (configs/accelerate/multi_gpu.yaml or zero2.yaml)"
        )
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=config.lr, weight_decay=config.weight_decay
    )
    schedule = get_cosine_schedule_with_warmup(optimizer, config.warmup_steps, config.max_steps)
    loader = sharded_loader(loader, accelerator.process_index, accelerator.num_processes)
    if accelerator.state.deepspeed_plugin is not None:
        # DeepSpeed wants the per-process batch; it cannot read it from a loader it is not given.
        plugin = accelerator.state.deepspeed_plugin
        plugin.deepspeed_config["train_micro_batch_size_per_gpu"] = (
            loader.batch_sampler.batch_size // accelerator.num_processes
        )
    model, optimizer, schedule = accelerator.prepare(model, optimizer, schedule)
    tracker = BestTracker(higher_is_better, config.patience)
    batches = endless(loader)
    train_tokens, started, step = 0, time.perf_counter(), 0
    model.train()
    # A context manager, so the bar ends its line before an error message is printed.
    with progress_bar(total=config.max_steps, desc=prefix, unit="step", disable=not main) as progress:
        while step < config.max_steps and not tracker.exhausted:
            for _ in range(config.grad_accum):
                batch = on_device(next(batches), accelerator.device)
                with accelerator.accumulate(model):
                    loss, reported = weighted_loss(accelerator, loss_of(model, batch), items_of(batch))
                    if not torch.isfinite(reported):
                        raise StageError(
                            f"{prefix}: the loss became {reported.item()} at step {step + 1}; "
                            f"lower {prefix}.lr or check the data (the previous model is kept)"
                        )
                    accelerator.backward(loss)
                    if accelerator.sync_gradients:
                        accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                    optimizer.step()
                    schedule.step()
                    optimizer.zero_grad()
                train_tokens += int(batch["attention_mask"].sum())
            step += 1
            progress.update(1)
            progress.set_postfix(loss=f"{reported.item():.3f}")
            live.step = step
            live.log_metric(f"{prefix}/train_loss", reported.item())
            live.log_metric(f"{prefix}/lr", schedule.get_last_lr()[0])
            if step % config.eval_every == 0 or step == config.max_steps:
                with whole_model(accelerator, model) as whole:
                    values = None
                    if whole is not None:
                        model.eval()
                        with torch.no_grad():
                            values = evaluate(whole)
                        model.train()
                    values = main_process_values(accelerator, values)
                    if tracker.update(values[monitor], step) and whole is not None:
                        on_best(whole, step)
                for name, value in values.items():
                    live.log_metric(name, value)
                if main:
                    progress.write(f"{prefix} step {step}: " + ", ".join(f"{k}={v:.4g}" for k, v in values.items()))
            live.next_step()
    if accelerator.num_processes > 1:
        train_tokens = int(accelerator.reduce(torch.tensor(train_tokens, device=accelerator.device), "sum"))
    return FitResult(step, tracker.best_step, tracker.best_value, train_tokens, time.perf_counter() - started)
