import pytest
import torch
from conftest import RecordingLive
from torch.utils.data import DataLoader

from stages.common.config import OptimConfig
from stages.common.errors import StageError
from stages.modeling.training_loop import BestTracker, accelerator_for, fit


def regression_data(n: int = 64) -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(n, 4, generator=generator)
    targets = inputs @ torch.tensor([1.0, -2.0, 0.5, 3.0])
    return [{"x": x, "y": y, "attention_mask": torch.ones(1)} for x, y in zip(inputs, targets, strict=True)]


def squared_error(model, batch):
    return ((model(batch["x"]).squeeze(-1) - batch["y"]) ** 2).mean()


def run_fit(config: OptimConfig, loss_of=squared_error, on_best=lambda model, step: None):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    data = regression_data()
    evaluate = lambda m: {"val/loss": float(squared_error(m, next(iter(DataLoader(data, batch_size=64)))))}  # noqa: E731
    live = RecordingLive()
    result = fit(
        model=model,
        loader=DataLoader(data, batch_size=8, shuffle=True),
        loss_of=loss_of,
        evaluate=evaluate,
        monitor="val/loss",
        higher_is_better=False,
        on_best=on_best,
        config=config,
        accelerator=accelerator_for(config),
        live=live,
        prefix="test",
    )
    return result, live


def test_a_few_steps_lower_the_loss_and_keep_the_best():
    bests = []
    result, live = run_fit(
        OptimConfig(lr=0.3, max_steps=60, eval_every=20, warmup_steps=0, patience=0),
        on_best=lambda model, step: bests.append(step),
    )
    evaluations = [value for _, name, value in live.logged if name == "val/loss"]
    assert len(evaluations) == 3 and evaluations[-1] < evaluations[0] / 10
    assert result.best_value == min(evaluations)
    assert bests == [20, 40, 60]
    assert result.steps == 60 and result.train_tokens == 60 * 8


def test_training_stops_after_patience_evaluations_without_improvement():
    # A learning rate of zero never improves on the first evaluation.
    result, _ = run_fit(OptimConfig(lr=1e-12, max_steps=100, eval_every=5, warmup_steps=0, patience=2))
    assert result.steps == 15 and result.best_step == 5


def test_a_nan_loss_is_a_clear_error():
    def broken(model, batch):
        return squared_error(model, batch) * float("nan")

    with pytest.raises(StageError, match=r"test: the loss became nan at step 1; lower test\.lr"):
        run_fit(OptimConfig(max_steps=5), loss_of=broken)


def test_best_tracker_in_both_directions():
    lower = BestTracker(higher_is_better=False, patience=2)
    assert lower.update(3.0, 1) and lower.update(2.0, 2) and not lower.update(2.5, 3)
    assert not lower.exhausted and not lower.update(2.0, 4) and lower.exhausted
    assert (lower.best_value, lower.best_step) == (2.0, 2)
    higher = BestTracker(higher_is_better=True, patience=0)
    assert higher.update(0.5, 1) and not higher.update(0.4, 2) and not higher.exhausted
