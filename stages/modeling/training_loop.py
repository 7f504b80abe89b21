"""The one optimisation loop SFT and the reward model share, under accelerate.

AdamW, linear warmup then cosine decay, gradient accumulation and clipping, an
evaluation every `eval_every` steps that keeps the best checkpoint, early stopping
after `patience` evaluations without improvement. accelerate makes the same loop run
on a CPU, one GPU or many. A non-finite loss stops the stage with a clear error
before anything is saved over the previous model.
"""

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader
from transformers import get_cosine_schedule_with_warmup

from stages.common.config import OptimConfig
from stages.common.errors import StageError
from stages.common.progress import progress_bar

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
    )


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
) -> FitResult:
    """Train until max_steps or patience runs out; call on_best with each new best model."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = get_cosine_schedule_with_warmup(optimizer, config.warmup_steps, config.max_steps)
    model, optimizer, loader, schedule = accelerator.prepare(model, optimizer, loader, schedule)
    tracker = BestTracker(higher_is_better, config.patience)
    batches = endless(loader)
    train_tokens, started, step = 0, time.perf_counter(), 0
    model.train()
    # A context manager, so the bar ends its line before an error message is printed.
    with progress_bar(total=config.max_steps, desc=prefix, unit="step") as progress:
        while step < config.max_steps and not tracker.exhausted:
            for _ in range(config.grad_accum):
                batch = next(batches)
                with accelerator.accumulate(model):
                    loss = loss_of(model, batch)
                    if not torch.isfinite(loss):
                        raise StageError(
                            f"{prefix}: the loss became {loss.item()} at step {step + 1}; "
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
            progress.set_postfix(loss=f"{loss.item():.3f}")
            live.step = step
            live.log_metric(f"{prefix}/train_loss", loss.item())
            live.log_metric(f"{prefix}/lr", schedule.get_last_lr()[0])
            if step % config.eval_every == 0 or step == config.max_steps:
                model.eval()
                with torch.no_grad():
                    values = evaluate(accelerator.unwrap_model(model))
                model.train()
                for name, value in values.items():
                    live.log_metric(name, value)
                if tracker.update(values[monitor], step):
                    on_best(accelerator.unwrap_model(model), step)
                progress.write(f"{prefix} step {step}: " + ", ".join(f"{k}={v:.4g}" for k, v in values.items()))
            live.next_step()
    return FitResult(step, tracker.best_step, tracker.best_value, train_tokens, time.perf_counter() - started)
