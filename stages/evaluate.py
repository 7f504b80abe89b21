"""evaluate: the RL policy against its SFT baseline on the test prompts.

Both models are decoded alike (evaluate's own sampling params and seed, so changing
how RL explores never moves the yardstick): several sampled stories per prompt and
one greedy decode. Each story is scored by the reward model and, on the simulator,
by gold; the policy's samples also by their KL to SFT. Perplexity is measured on the
test split's own stories. A diverged RL run is evaluated all the same (rl saved its
last good policy) and the metrics say so.
"""

import json
import os
import time
from functools import partial
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

from stages.common.atomic_io import atomic_write_text, write_metrics
from stages.common.config import DataConfig, EvaluateConfig, ModelConfig, load_section
from stages.common.datasets import load_stories, split_of
from stages.common.errors import StageError
from stages.common.layout import (
    EVALUATE_METRICS_FILE,
    EVALUATE_SAMPLES_FILE,
    POLICY_DIR,
    REWARD_DIR,
    SFT_DIR,
    metrics_file,
)
from stages.common.progress import progress_bar
from stages.evaluation.comparison import Decoded, decoding_summary, head_to_head
from stages.evaluation.decoding import Judges, decode
from stages.modeling.base_model import load_fused, load_tokenizer
from stages.modeling.lm_loss import dataset_perplexity, perplexity_loader
from stages.modeling.reward_model import RewardScorer
from stages.modeling.sampling import SamplingConfig
from stages.modeling.story_format import encode_story
from stages.simulator.gold import gold

PREFIX = "evaluate"


def rl_outcome() -> tuple[int, int | None]:
    """(rl/diverged, rl/diverged_step) from reports/rl.json."""
    path = metrics_file("rl")
    if not path.exists():
        raise StageError(f"{path} not found: run `ahf rl` first")
    metrics = json.loads(path.read_text())
    return int(metrics.get("rl/diverged") or 0), metrics.get("rl/diverged_step")


def sample_rows(sft: Decoded, policy: Decoded, decoding: str, samples: int) -> list[dict]:
    """One row per (prompt, sample): both models' stories side by side, with their scores."""
    rows = []
    for index, prompt in enumerate(sft.prompts):
        row = {
            "prompt": prompt,
            "decoding": decoding,
            "sample": index % samples,
            "sft_story": sft.stories[index],
            "policy_story": policy.stories[index],
            "sft_reward": sft.rewards[index],
            "policy_reward": policy.rewards[index],
        }
        if sft.gold is not None and policy.gold is not None:
            row |= {"sft_gold": sft.gold[index], "policy_gold": policy.gold[index]}
        if policy.kl is not None:
            row["policy_kl"] = policy.kl[index]
        rows.append(row)
    return rows


def run(params: Path) -> str:
    data = load_section(params, "data", DataConfig)
    model_config = load_section(params, "model", ModelConfig)
    config = load_section(params, "evaluate", EvaluateConfig)
    for path, stage in ((POLICY_DIR, "rl"), (SFT_DIR, "sft"), (REWARD_DIR, "reward")):
        if not path.exists():
            raise StageError(f"{path} not found: run `ahf {stage}` first")
    diverged, diverged_step = rl_outcome()
    test = split_of(load_stories(), "test", "stories")
    prompts = sorted(test["prompt"].unique())[: config.prompts]
    started = time.perf_counter()

    device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        # Decoding is a long chain of small ops: split across threads, each op waits for the
        # slowest, and on a shared CPU a descheduled thread stalls them all (docs/benchmarks.md).
        torch.set_num_threads(1)
    tokenizer = load_tokenizer()
    sft = load_fused(AutoModelForCausalLM, SFT_DIR, "the SFT model").to(device).eval()
    policy = load_fused(AutoModelForCausalLM, POLICY_DIR, "the RL policy").to(device).eval()
    judges = Judges(
        sft,
        RewardScorer.load(REWARD_DIR, device),
        tokenizer,
        model_config.max_prompt_tokens,
        model_config.max_tokens,
        gold if data.source == "simulated" else None,
    )
    sampled = partial(
        decode,
        judges=judges,
        prompts=prompts,
        samples=config.samples_per_prompt,
        seed=config.seed,
        sampling=SamplingConfig(config.max_new_tokens, config.temperature, config.top_k, config.top_p),
        batch_size=config.batch_size,
    )
    greedy = partial(
        decode,
        judges=judges,
        prompts=prompts,
        samples=1,
        seed=config.seed,
        sampling=SamplingConfig(config.max_new_tokens, greedy=True),
        batch_size=config.batch_size,
        with_kl=False,
    )
    encode = partial(
        encode_story,
        tokenizer,
        max_prompt_tokens=model_config.max_prompt_tokens,
        max_tokens=model_config.max_tokens,
        add_eos=True,
    )
    # A seeded sample: the same stories for both models and for every run.
    held_out = test.sample(min(config.reference_stories or len(test), len(test)), random_state=config.seed)
    references = perplexity_loader(
        [encode(p, s) for p, s in zip(held_out["prompt"], held_out["story"], strict=True)], tokenizer.pad_token_id
    )

    decoded: dict[str, dict[str, Decoded]] = {"sample": {}, "greedy": {}}
    perplexity: dict[str, float] = {}
    with progress_bar(total=6, desc="evaluate", unit="part") as progress:
        for name, model in (("sft", sft), ("policy", policy)):
            progress.set_postfix_str(f"{name} samples", refresh=False)
            # SFT's KL to itself is zero by definition: only the policy's is measured.
            decoded["sample"][name] = sampled(model, with_kl=name == "policy")
            progress.update(1)
            progress.set_postfix_str(f"{name} greedy", refresh=False)
            decoded["greedy"][name] = greedy(model)
            progress.update(1)
            progress.set_postfix_str(f"{name} perplexity", refresh=False)
            perplexity[name] = dataset_perplexity(model, references)
            progress.update(1)

    metrics = {
        f"{PREFIX}/rl_diverged": diverged,
        f"{PREFIX}/rl_diverged_step": diverged_step,
        f"{PREFIX}/prompts": len(prompts),
        f"{PREFIX}/reference_stories": len(held_out),
    }
    for decoding, name_prefix in (("sample", ""), ("greedy", "greedy_")):
        for name in ("sft", "policy"):
            metrics |= decoding_summary(decoded[decoding][name], f"{PREFIX}/{name}", name_prefix)
        metrics |= head_to_head(decoded[decoding]["policy"], decoded[decoding]["sft"], PREFIX, name_prefix)
    metrics |= {f"{PREFIX}/{name}/perplexity": value for name, value in perplexity.items()}
    metrics[f"{PREFIX}/seconds"] = time.perf_counter() - started

    rows = sample_rows(
        decoded["sample"]["sft"], decoded["sample"]["policy"], "sample", config.samples_per_prompt
    ) + sample_rows(decoded["greedy"]["sft"], decoded["greedy"]["policy"], "greedy", 1)
    atomic_write_text(EVALUATE_SAMPLES_FILE, "".join(json.dumps(row) + "\n" for row in rows))
    write_metrics(EVALUATE_METRICS_FILE, metrics)
    return summary_line(metrics, diverged_step if diverged else None)


def summary_line(metrics: dict, diverged_step: int | None) -> str:
    def pair(name: str) -> str:
        return f"{name} {metrics[f'{PREFIX}/sft/{name}']:.3f} -> {metrics[f'{PREFIX}/policy/{name}']:.3f}"

    parts = [pair("reward")] + ([pair("gold")] if f"{PREFIX}/policy/gold" in metrics else []) + [pair("perplexity")]
    wins = f"win rate {metrics[f'{PREFIX}/win_rate_reward']:.2f} (reward)"
    if f"{PREFIX}/win_rate_gold" in metrics:
        wins += f", {metrics[f'{PREFIX}/win_rate_gold']:.2f} (gold)"
    note = f"; rl diverged at step {diverged_step}: this is its last good policy" if diverged_step is not None else ""
    return (
        f"evaluate ({metrics[f'{PREFIX}/prompts']} test prompts, SFT -> policy): "
        + ", ".join(parts)
        + f", KL {metrics[f'{PREFIX}/policy/kl']:.2f}; {wins}; {metrics[f'{PREFIX}/seconds']:.0f} s"
        + note
        + f" -> {EVALUATE_METRICS_FILE}"
    )
