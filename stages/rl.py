"""rl: the SFT policy optimised against the frozen reward model.

loss = pg_loss - alpha * llh(reference stories) + KL to SFT, with the estimator of
rl.algo (stages/policy_gradient). On the simulator, gold quality is measured in the
loop on fixed val prompts, beside the proxy reward, so over-optimisation shows while it
happens. A divergence is an outcome, not a crash: the last good policy is saved, the
metrics say rl/diverged, and the stage exits 0 so a sweep finishes.

Under `accelerate launch` (launch.config) each of N processes samples and updates on
prompts_per_step / N of each step's prompts, with replicated models and averaged
gradients (stages/policy_gradient/data_parallel.py); only the main process evaluates and
writes.
"""

import json
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
from accelerate.utils import set_seed
from dvclive import Live
from torch.utils.data import DataLoader
from transformers import AutoModelForCausalLM

from stages.common.atomic_io import atomic_output_dir, atomic_write_text, write_metrics
from stages.common.config import DataConfig, ModelConfig, RLConfig, load_alpha, load_section
from stages.common.datasets import load_pairs, load_stories, split_of
from stages.common.distributed import DataParallel, SilentLive, on_main_process
from stages.common.errors import StageError
from stages.common.layout import POLICY_DIR, REWARD_DIR, RL_LIVE_DIR, RL_SAMPLES_FILE, SFT_DIR, metrics_file
from stages.common.progress import progress_bar
from stages.modeling.adapters import plain_model, trainable
from stages.modeling.base_model import load_fused, load_tokenizer
from stages.modeling.lm_loss import dataset_perplexity
from stages.modeling.reward_model import RewardScorer
from stages.modeling.story_format import encode_story, lm_batch
from stages.policy_gradient.data_parallel import check_data_parallel
from stages.policy_gradient.trainer import Evaluation, PolicyTrainer, RLModels
from stages.simulator.gold import gold

# Held-out perplexity: enough val stories for a steady figure, few enough to be quick.
PERPLEXITY_STORIES = 256


def device_for_rl(parallel: DataParallel) -> torch.device:
    if parallel.count > 1:
        return parallel.device  # this process's own GPU (or the CPU)
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def load_models(model_config: ModelConfig, device: torch.device) -> RLModels:
    for path, stage in ((SFT_DIR, "sft"), (REWARD_DIR, "reward")):
        if not path.exists():
            raise StageError(f"{path} not found: run `ahf {stage}` first")
    tokenizer = load_tokenizer()
    # With LoRA the reference stays a separate frozen copy rather than the policy with its
    # adapters off: one code path for both, at the cost of one more copy of the weights.
    policy = trainable(
        load_fused(AutoModelForCausalLM, SFT_DIR, "the SFT model").to(device), model_config, task="causal_lm"
    )
    reference = load_fused(AutoModelForCausalLM, SFT_DIR, "the SFT model").to(device)
    scorer = RewardScorer.load(REWARD_DIR, device)
    scorer.model.requires_grad_(False)
    return RLModels(policy, reference, scorer, tokenizer, model_config.max_prompt_tokens, model_config.max_tokens)


def prompt_stream(prompts: list[str], per_step: int, seed: int):
    """Train prompts without replacement, reshuffled each time they run out."""
    rng = np.random.default_rng(seed)
    queue: list[str] = []
    while True:
        if len(queue) < per_step:
            queue += [prompts[i] for i in rng.permutation(len(prompts))]
        yield queue[:per_step]
        queue = queue[per_step:]


def sample_rows(step: int, evaluation: Evaluation) -> list[dict]:
    return [
        {"step": step, "prompt": p, "story": s, "reward": r} | ({"gold": g} if evaluation.gold is not None else {})
        for p, s, r, g in zip(
            evaluation.prompts,
            evaluation.stories,
            evaluation.rewards,
            evaluation.gold or [None] * len(evaluation.stories),
            strict=True,
        )
    ]


def run(params: Path) -> str:
    data = load_section(params, "data", DataConfig)
    model_config = load_section(params, "model", ModelConfig)
    config = load_section(params, "rl", RLConfig)
    alpha = load_alpha(params)
    set_seed(config.seed)
    parallel = DataParallel.start()
    check_data_parallel(config, parallel.count)
    device = device_for_rl(parallel)
    models = load_models(model_config, device)

    stories = load_stories()
    train = split_of(stories, "train", "stories")
    val = split_of(stories, "val", "stories")
    encode = partial(
        encode_story,
        models.tokenizer,
        max_prompt_tokens=model_config.max_prompt_tokens,
        max_tokens=model_config.max_tokens,
        add_eos=True,
    )
    reference_rows = train[train["tier"].isin(config.ref_tiers)]
    if reference_rows.empty:
        raise StageError(f"the train split holds no stories of the tiers {config.ref_tiers} (rl.ref_tiers)")
    reference_stories = [encode(p, s) for p, s in zip(reference_rows["prompt"], reference_rows["story"], strict=True)]
    pairs = None
    if config.algo == "dpo":
        train_pairs = split_of(load_pairs(), "train", "preference pairs")
        pairs = [
            (encode(p, c), encode(p, r))
            for p, c, r in zip(train_pairs["prompt"], train_pairs["chosen"], train_pairs["rejected"], strict=True)
        ]
    train_prompts = sorted(train["prompt"].unique())
    eval_prompts = sorted(val["prompt"].unique())[: config.eval_prompts]
    held_out = val.sample(min(PERPLEXITY_STORIES, len(val)), random_state=config.seed)
    perplexity_loader = DataLoader(
        sorted(
            (encode(p, s) for p, s in zip(held_out["prompt"], held_out["story"], strict=True)),
            key=lambda e: len(e.input_ids),
        ),
        batch_size=64,
        collate_fn=partial(lm_batch, pad_id=models.tokenizer.pad_token_id),
    )

    trainer = PolicyTrainer(
        models,
        config,
        alpha,
        reference_stories,
        pairs,
        device,
        gold_of=gold if data.source == "simulated" else None,
        parallel=parallel,
    )
    eval_seed = config.seed + 1
    evaluate = partial(trainer.evaluate, prompts=eval_prompts, samples=config.eval_samples_per_prompt, seed=eval_seed)
    main = parallel.is_main
    if main:
        sft_eval = evaluate(models.reference)
        sft_perplexity = dataset_perplexity(models.reference, perplexity_loader)
        samples = sample_rows(0, sft_eval)
    prompts = prompt_stream(train_prompts, config.prompts_per_step, config.seed)
    diverged_at, why, step = None, None, 0
    started = time.perf_counter()

    with on_main_process(main, lambda: Live(str(RL_LIVE_DIR), save_dvc_exp=False, dvcyaml=False), SilentLive()) as live:
        if main:
            log_evaluation(live, 0, sft_eval)
        live.next_step()
        with progress_bar(total=config.steps, desc="rl", unit="step", disable=not main) as progress:
            for step in range(1, config.steps + 1):
                outcome = trainer.step(step - 1, parallel.take(next(prompts)), config.steps)
                if outcome.diverged:
                    diverged_at, why = step, outcome.diverged
                    if main:
                        progress.write(f"rl: diverged at step {step}: {why}; keeping the policy of step {step - 1}")
                    break
                live.step = step
                for name, value in outcome.metrics.items():
                    live.log_metric(name, value)
                progress.update(1)
                progress.set_postfix(reward=f"{outcome.metrics.get('rl/reward_mean', float('nan')):.3f}")
                if main and (step % config.eval_every == 0 or step == config.steps):
                    final_eval = evaluate(models.policy)
                    log_evaluation(live, step, final_eval)
                    samples += sample_rows(step, final_eval)
                    progress.write(
                        f"rl step {step}: "
                        + ", ".join(f"{k.split('/')[-1]}={v:.3g}" for k, v in final_eval.summary("rl/eval").items())
                    )
                live.next_step()
    seconds = time.perf_counter() - started
    if not main:
        return ""
    steps_done = step - 1 if diverged_at else step
    if diverged_at:  # the restored weights have not been evaluated yet
        final_eval = evaluate(models.policy)
        samples += sample_rows(steps_done, final_eval)
    policy_perplexity = dataset_perplexity(models.policy, perplexity_loader)

    with atomic_output_dir(POLICY_DIR) as staging:
        plain_model(models.policy).save_pretrained(staging)
        models.tokenizer.save_pretrained(staging)
    atomic_write_text(RL_SAMPLES_FILE, "".join(json.dumps(row) + "\n" for row in samples))
    metrics = rl_metrics(
        sft_eval, final_eval, sft_perplexity, policy_perplexity, trainer, steps_done, seconds, diverged_at
    )
    write_metrics(metrics_file("rl"), metrics)
    outcome_text = f"diverged at step {diverged_at} ({why})" if diverged_at else f"{steps_done} steps"
    gold_text = (
        f", gold {metrics['rl/sft/gold']:.3f} -> {metrics['rl/policy/gold']:.3f}" if "rl/policy/gold" in metrics else ""
    )
    return (
        f"rl ({config.algo}, alpha {alpha:g}): {outcome_text}; reward {metrics['rl/sft/reward']:.3f} -> "
        f"{metrics['rl/policy/reward']:.3f}{gold_text}, perplexity {sft_perplexity:.2f} -> {policy_perplexity:.2f}, "
        f"KL {metrics['rl/policy/kl']:.2f}; {seconds:.0f} s -> {POLICY_DIR}/"
    )


def log_evaluation(live, step: int, evaluation: Evaluation) -> None:
    live.step = step
    for name, value in evaluation.summary("rl/eval").items():
        live.log_metric(name, value)


def rl_metrics(
    sft_eval: Evaluation,
    final_eval: Evaluation,
    sft_perplexity: float,
    policy_perplexity: float,
    trainer: PolicyTrainer,
    steps: int,
    seconds: float,
    diverged_at: int | None,
) -> dict:
    metrics = (
        sft_eval.summary("rl/sft")
        | final_eval.summary("rl/policy")
        | {
            "rl/sft/perplexity": sft_perplexity,
            "rl/policy/perplexity": policy_perplexity,
            "rl/diverged": int(diverged_at is not None),
            "rl/diverged_step": diverged_at,
            "rl/steps": steps,
            "rl/seconds": seconds,
            "rl/seconds_per_step": seconds / steps if steps else None,
        }
    )
    metrics |= {f"rl/seconds_{phase}": total / max(steps, 1) for phase, total in trainer.timer.seconds.items()}
    if "rl/sft/gold" in metrics and metrics["rl/sft/gold_std"] > 0:
        metrics["rl/gold_gain_sd"] = (metrics["rl/policy/gold"] - metrics["rl/sft/gold"]) / metrics["rl/sft/gold_std"]
    return {
        key: (None if isinstance(value, float) and not np.isfinite(value) else value) for key, value in metrics.items()
    }
