"""ahf's RL step against TRL's RLOOTrainer: the same model, prompts, batch, response length
and reward, one step of each in turn in one process.

    python bench/rl_step.py                          # 10 timed steps each after 2 warm-up, on the CPU
    python bench/rl_step.py --steps 3 --warmup 1     # a quick check
    python bench/rl_step.py --threads 1              # on a shared machine (see docs/benchmarks.md)
    python bench/rl_step.py --profile                # ahf only: its phases, and the torch ops of a step
    python bench/rl_step.py --compare-malloc         # the same, with and without glibc's malloc thresholds raised
    python bench/rl_step.py --device cuda            # also gpt2-xl's shape, bf16, with the update's MFU

Needs the bench extra (`pip install -e '.[bench]' -c constraints.txt`; --profile does not).

What is the same in both:
- the model: GPT-2 of params.yaml's model section (models/sft when `dvc repro reward` has
  been run, else a random init), saved once with the fused GELU ahf's rl stage loads, so
  both policies and both frozen references are that same model; fp32 on a CPU, bf16
  autocast over fp32 weights on a GPU;
- the prompts: step k of each trainer gets the same 16 prompts (the train split's prompts
  after `dvc repro reward`, else the simulator's prompt writer with a fixed seed), the
  same tokens (TRL is given the text of the ids ahf encodes);
- the batch: 16 prompts x 4 samples, one optimizer step over all 64 completions (TRL:
  num_generations 4, per_device_train_batch_size 64, steps_per_generation 1,
  num_iterations 1, no gradient checkpointing, dropout off, no vLLM);
- the length: exactly 96 new tokens a completion (TRL: min_new_tokens; ahf: no token ends
  a row), so both generate 6,144 tokens a step;
- the reward: one RewardScorer (models/reward, else a random init of the same shape)
  scores both trainers' stories, normalised as ahf's rl stage does;
- the RLOO maths: leave-one-out baseline, the summed k1 KL to the reference taken out of
  the reward with TRL's beta = ahf's rl.kl_coef, AdamW at rl.lr with rl.max_grad_norm.

What one step is:
- ahf: PolicyTrainer.step, timed around the call: generate (encode, sample with the KV
  cache, decode), score (the reward model), reference (no grad: the reference's
  log-probs of the rollout and its NLL of a batch of rl.ref_batch_size SFT stories,
  packed into rows of model.max_tokens),
  update (the rest: policy forward and backward on the rollout and on those SFT stories
  for the alpha * llh term TRL does not have, clip, the last-good snapshot, AdamW).
- TRL: one optimizer step, on_step_begin to on_step_end of a TrainerCallback: generate
  (_generate: tokenize, model.generate, decode), score (_calculate_rewards), reference
  (no grad: the policy's old log-probs and the reference's), update (the rest: RLOO
  advantages, policy forward and backward, clip, AdamW, the scheduler).
Data loading and TRL's logging fall outside both. Printed per trainer: medians of wall
seconds per step and per phase, generation tokens/s (new tokens / generate seconds), CPU
and system seconds per step (every thread, from os.times) and, on a GPU, the update's
MFU: 6 x parameters x the rollout's tokens (prompt width + 96, 64 rows) / update seconds /
--peak-tflops; ahf's update also trains on its SFT stories, which that leaves out.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM, GPT2ForSequenceClassification, GPT2LMHeadModel
from transformers.utils import logging as transformers_logging

from stages.common.config import ModelConfig, RewardConfig, RLConfig, load_alpha, load_section, read_params
from stages.common.contracts import TIERS
from stages.common.datasets import load_stories, split_of
from stages.common.layout import REWARD_DIR, SFT_DIR
from stages.modeling.base_model import FUSED_ACTIVATIONS, load_fused, load_tokenizer, tiny_gpt2_config
from stages.modeling.reward_model import OUTPUTS, RewardHead, RewardScorer
from stages.modeling.sampling import encode_prompts, story_token_scores
from stages.modeling.story_format import encode_story, prompt_prefix
from stages.policy_gradient.trainer import PhaseTimer, PolicyTrainer, RLModels
from stages.simulator.story_writer import prompt_titles, write_stories, writing_styles
from stages.simulator.vocabulary import THEMES
from stages.tokenizer import train_bpe_tokenizer

SCRIPT = Path(__file__).resolve()
PROJECT = SCRIPT.parents[1]
PARAMS = Path("params.yaml")
PROMPTS_PER_STEP, SAMPLES_PER_PROMPT, NEW_TOKENS = 16, 4, 96
PHASES = ("generate", "score", "reference", "update")
# Synthetic prompts and stories (no data/ yet), drawn like the simulator's; enough
# stories for the tokenizer to learn the vocabulary a trained run would have.
SYNTHETIC_SEED, SYNTHETIC_STORIES = 0, 2000
# glibc returns freed blocks above its mmap threshold (at most 32 MiB by default) to the
# kernel, so each step's large logits tensors fault their pages in afresh; above both
# thresholds they stay in the heap.
LARGE_MALLOC_THRESHOLDS = {"MALLOC_MMAP_THRESHOLD_": "1073741824", "MALLOC_TRIM_THRESHOLD_": "1073741824"}


@dataclass(frozen=True)
class Shape:
    name: str
    n_layer: int
    n_head: int
    n_embd: int
    trained: bool  # models/sft and models/reward are of this shape; else random inits


GPT2_XL = Shape("gpt2-xl", 48, 25, 1600, trained=False)


@dataclass
class BenchData:
    source: str  # where the prompts came from, for the printout
    tokenizer: object
    prompts: list[str]
    reference_stories: list  # EncodedStory: ahf's likelihood term
    trained: bool  # models/sft and models/reward exist


@dataclass
class StepRecord:
    seconds: float
    cpu_seconds: float  # user + system of every thread: steadier than wall on a shared machine
    system_seconds: float
    phases: dict[str, float]
    new_tokens: int
    trained_tokens: int  # rows x columns of the rollout the update runs on


@dataclass
class StepClock:
    """One trainer's steps: wall and system seconds, and what its PhaseTimer saw between start and stop."""

    timer: PhaseTimer
    device: torch.device
    records: list[StepRecord] = field(default_factory=list)

    def start(self) -> None:
        synchronize(self.device)
        self.phases_before = dict(self.timer.seconds)
        self.times_before = os.times()
        self.started = time.perf_counter()

    def stop(self, new_tokens: int, trained_tokens: int) -> None:
        synchronize(self.device)
        seconds = time.perf_counter() - self.started
        phases = {name: self.timer.seconds[name] - self.phases_before.get(name, 0.0) for name in PHASES[:-1]}
        phases["update"] = seconds - sum(phases.values())
        times = os.times()
        system = times.system - self.times_before.system
        cpu = times.user - self.times_before.user + system
        self.records.append(StepRecord(seconds, cpu, system, phases, new_tokens, trained_tokens))


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---- the shared inputs --------------------------------------------------------------------


def bench_data(model_config: ModelConfig, rl_config: RLConfig, prompts_needed: int) -> BenchData:
    if REWARD_DIR.exists():
        tokenizer = load_tokenizer()
        train = split_of(load_stories(), "train", "stories")
        prompts = sorted(train["prompt"].unique())
        rows = train[train["tier"].isin(rl_config.ref_tiers)]
        pairs = list(zip(rows["prompt"], rows["story"], strict=True))
        source = f"the train split's {len(prompts)} prompts (data/processed), models/sft and models/reward"
        trained = True
    else:
        # The simulator's writer, with writers' skills drawn as the simulator draws them.
        rng, n = np.random.default_rng(SYNTHETIC_SEED), max(prompts_needed, SYNTHETIC_STORIES)
        themes = rng.integers(len(THEMES), size=n)
        prompts = prompt_titles(rng, themes)
        pairs = list(
            zip(prompts, write_stories(rng, writing_styles(rng, themes, rng.beta(2.0, 2.0, size=n))), strict=True)
        )
        tokenizer = train_bpe_tokenizer(
            [prompt_prefix(p) for p in prompts] + [s for _, s in pairs], model_config.vocab_size
        )
        prompts = prompts[:prompts_needed]
        source = (
            f"{len(prompts)} synthetic prompts (the simulator's writer, seed {SYNTHETIC_SEED}; no models/reward), "
            "random-init policy and reward model"
        )
        trained = False
    encode = partial(
        encode_story,
        tokenizer,
        max_prompt_tokens=model_config.max_prompt_tokens,
        max_tokens=model_config.max_tokens,
        add_eos=True,
    )
    return BenchData(source, tokenizer, prompts, [encode(p, s) for p, s in pairs], trained)


def shape_config(shape: Shape, model_config: ModelConfig, tokenizer):
    config = tiny_gpt2_config(
        model_config.model_copy(update={"n_layer": shape.n_layer, "n_head": shape.n_head, "n_embd": shape.n_embd}),
        tokenizer,
    )
    config.activation_function = FUSED_ACTIVATIONS[config.activation_function]
    return config


def save_policy(shape: Shape, model_config: ModelConfig, tokenizer, folder: Path) -> Path:
    """The starting policy, saved so that every copy of it (ahf's policy and reference, TRL's
    policy and the reference TRL loads by path) is the same model, fused GELU included."""
    if shape.trained:
        model = load_fused(AutoModelForCausalLM, SFT_DIR, "the SFT model")
    else:
        torch.manual_seed(SYNTHETIC_SEED)
        model = GPT2LMHeadModel(shape_config(shape, model_config, tokenizer))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def reward_scorer(shape: Shape, model_config: ModelConfig, tokenizer, device: torch.device) -> RewardScorer:
    if shape.trained:
        scorer = RewardScorer.load(REWARD_DIR, device)
    else:
        torch.manual_seed(SYNTHETIC_SEED + 1)
        config = shape_config(shape, model_config, tokenizer)
        reward_config = load_section(PARAMS, "reward", RewardConfig)
        head = RewardHead(
            reward_config.kind,
            tuple(reward_config.tier_values[tier] for tier in TIERS),
            model_config.max_tokens,
            model_config.max_prompt_tokens,
        )
        config.num_labels = OUTPUTS[reward_config.kind]
        scorer = RewardScorer(GPT2ForSequenceClassification(config).to(device).eval(), tokenizer, head)
    scorer.model.requires_grad_(False)
    return scorer


def autocast_for(device: torch.device):
    """The precision ahf's rl stage picks (rl.mixed_precision: auto); TRL gets bf16=True on a GPU to match."""
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


def trl_reward_function(scorer: RewardScorer, device: torch.device):
    def reward_model(prompts, completions, story_prompt, **_):
        """ahf's reward of a story: the reward model's score of (prompt, story), normalised."""
        with autocast_for(device):
            return scorer.normalise(scorer.score(story_prompt, completions)).float().tolist()

    return reward_model


def rl_config_for_bench() -> RLConfig:
    """params.yaml's rl section at the issue's batch and length, with TRL's RLOO form of the KL."""
    section = read_params(PARAMS).get("rl") or {}
    return RLConfig.model_validate(
        section
        | {
            "algo": "rloo",
            "prompts_per_step": PROMPTS_PER_STEP,
            "samples_per_prompt": SAMPLES_PER_PROMPT,
            "max_new_tokens": NEW_TOKENS,
            "kl_in": "reward",
            "kl_estimator": "k1",
        }
    )


# ---- the two trainers ---------------------------------------------------------------------


def ahf_trainer(
    policy_folder: Path,
    scorer: RewardScorer,
    data: BenchData,
    model_config: ModelConfig,
    config: RLConfig,
    device: torch.device,
) -> PolicyTrainer:
    policy = load_fused(AutoModelForCausalLM, policy_folder, "the bench policy").to(device)
    reference = load_fused(AutoModelForCausalLM, policy_folder, "the bench policy").to(device)
    models = RLModels(
        policy, reference, scorer, data.tokenizer, model_config.max_prompt_tokens, model_config.max_tokens
    )
    trainer = PolicyTrainer(models, config, load_alpha(PARAMS), data.reference_stories, None, device)
    # Every row runs the full 96 tokens, as min_new_tokens makes TRL's: the sampler stops a
    # row at eos_id, and no token has this one.
    trainer.eos_id = -1
    return trainer


def ahf_step(
    trainer: PolicyTrainer, clock: StepClock, index: int, prompts: list[str], total: int, trained_tokens: int
) -> None:
    clock.start()
    outcome = trainer.step(index, prompts, total)
    new_tokens = round(outcome.metrics["rl/story_tokens"] * len(prompts) * SAMPLES_PER_PROMPT)
    clock.stop(new_tokens, trained_tokens)
    if outcome.diverged:
        sys.exit(f"ahf's step {index} diverged ({outcome.diverged}): a benchmark of refused steps would mislead")


def trl_comparison(
    policy_folder: Path,
    scorer: RewardScorer,
    data: BenchData,
    config: RLConfig,
    batches: list[list[str]],
    prompt_texts: dict[str, str],
    trained_tokens: list[int],
    device: torch.device,
    scratch: Path,
    ahf_turn,
) -> StepClock:
    """Runs TRL's RLOOTrainer for len(batches) steps, calling ahf_turn(k) before TRL's step k."""
    import datasets
    import trl
    from transformers import PrinterCallback, TrainerCallback

    class TimedRLOOTrainer(trl.RLOOTrainer):
        """RLOOTrainer with its phases timed as ahf's PhaseTimer times them, and its new tokens counted."""

        def __init__(self, *args, timer: PhaseTimer, **kwargs):
            self.phase_timer, self.new_tokens, self.last_prompts = timer, 0, []
            super().__init__(*args, **kwargs)

        def _generate(self, prompts):
            with self.phase_timer.phase("generate", device):
                prompt_ids, completion_ids, completions = super()._generate(prompts)
            self.new_tokens += sum(len(ids) for ids in completion_ids)
            self.last_prompts = prompts
            return prompt_ids, completion_ids, completions

        def _calculate_rewards(self, *args, **kwargs):
            with self.phase_timer.phase("score", device):
                return super()._calculate_rewards(*args, **kwargs)

        def _get_per_token_logps_and_entropies(self, *args, **kwargs):
            if torch.is_grad_enabled():
                return super()._get_per_token_logps_and_entropies(*args, **kwargs)
            with self.phase_timer.phase("reference", device):
                return super()._get_per_token_logps_and_entropies(*args, **kwargs)

    clock = StepClock(PhaseTimer(), device)

    class Alternate(TrainerCallback):
        def on_step_begin(self, args, state, control, **_):
            ahf_turn(state.global_step)
            trainer.new_tokens = 0
            clock.start()

        def on_step_end(self, args, state, control, **_):
            step = state.global_step - 1
            clock.stop(trainer.new_tokens, trained_tokens[step])
            if trainer.last_prompts[::SAMPLES_PER_PROMPT] != [prompt_texts[p] for p in batches[step]]:
                sys.exit(f"TRL's step {step} drew other prompts than ahf's")

    args = trl.RLOOConfig(
        output_dir=str(scratch / "trl"),
        use_cpu=device.type == "cpu",
        bf16=device.type == "cuda",
        activation_checkpointing=False,
        disable_dropout=True,
        per_device_train_batch_size=PROMPTS_PER_STEP * SAMPLES_PER_PROMPT,
        gradient_accumulation_steps=1,
        steps_per_generation=1,
        num_iterations=1,
        num_generations=SAMPLES_PER_PROMPT,
        max_completion_length=NEW_TOKENS,
        generation_kwargs={"min_new_tokens": NEW_TOKENS},
        temperature=config.temperature,
        top_k=config.top_k,
        top_p=config.top_p,
        beta=config.kl_coef,
        learning_rate=config.lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        optim="adamw_torch",
        max_grad_norm=config.max_grad_norm,
        max_steps=len(batches),
        shuffle_dataset=False,
        seed=config.seed,
        logging_strategy="no",
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
    )
    rows = [{"prompt": prompt_texts[prompt], "story_prompt": prompt} for batch in batches for prompt in batch]
    trainer = TimedRLOOTrainer(
        model=str(policy_folder),
        reward_funcs=trl_reward_function(scorer, device),
        args=args,
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=data.tokenizer,
        callbacks=[Alternate()],
        timer=clock.timer,
    )
    trainer.remove_callback(PrinterCallback)  # its end-of-training summary would interleave with the table
    trainer.train()
    return clock


def prompt_texts_for_trl(tokenizer, prompts: list[str], max_prompt_tokens: int) -> dict[str, str]:
    """The text whose tokens are exactly those ahf feeds the policy (prefix, truncation and all)."""
    texts = {}
    for prompt, ids in zip(prompts, encode_prompts(tokenizer, prompts, max_prompt_tokens), strict=True):
        text = tokenizer.decode(ids, clean_up_tokenization_spaces=False)
        if tokenizer(text)["input_ids"] != ids:  # as TRL tokenizes its prompts
            sys.exit(f"the prompt {prompt!r} does not survive decode and encode: TRL would see other tokens")
        texts[prompt] = text
    return texts


# ---- runs ---------------------------------------------------------------------------------


def step_batches(prompts: list[str], steps: int) -> list[list[str]]:
    return [
        [prompts[(step * PROMPTS_PER_STEP + i) % len(prompts)] for i in range(PROMPTS_PER_STEP)]
        for step in range(steps)
    ]


def rollout_tokens(tokenizer, batch: list[str], max_prompt_tokens: int) -> int:
    width = max(len(ids) for ids in encode_prompts(tokenizer, batch, max_prompt_tokens))
    return len(batch) * SAMPLES_PER_PROMPT * (width + NEW_TOKENS)


def compare(
    shape: Shape, data: BenchData, model_config: ModelConfig, config: RLConfig, device: torch.device, steps: int
) -> tuple[StepClock, StepClock, int]:
    """(ahf's clock, TRL's clock, the policy's parameter count), the two trainers' steps alternating."""
    with tempfile.TemporaryDirectory() as scratch:
        policy_folder = save_policy(shape, model_config, data.tokenizer, Path(scratch) / "policy")
        scorer = reward_scorer(shape, model_config, data.tokenizer, device)
        trainer = ahf_trainer(policy_folder, scorer, data, model_config, config, device)
        batches = step_batches(data.prompts, steps)
        trained_tokens = [rollout_tokens(data.tokenizer, batch, model_config.max_prompt_tokens) for batch in batches]
        texts = prompt_texts_for_trl(
            data.tokenizer, sorted({p for batch in batches for p in batch}), model_config.max_prompt_tokens
        )
        ahf_clock = StepClock(trainer.timer, device)
        trl_clock = trl_comparison(
            policy_folder,
            scorer,
            data,
            config,
            batches,
            texts,
            trained_tokens,
            device,
            Path(scratch),
            ahf_turn=lambda k: ahf_step(trainer, ahf_clock, k, batches[k], steps, trained_tokens[k]),
        )
        parameters = sum(p.numel() for p in trainer.m.policy.parameters())
    return ahf_clock, trl_clock, parameters


def summary(records: list[StepRecord], parameters: int, peak_flops: float | None) -> dict[str, float]:
    median = statistics.median
    figures = {
        "seconds_per_step": median(r.seconds for r in records),
        "min_seconds": min(r.seconds for r in records),
        "max_seconds": max(r.seconds for r in records),
        "cpu_seconds_per_step": median(r.cpu_seconds for r in records),
        "system_seconds_per_step": median(r.system_seconds for r in records),
        "new_tokens_per_step": median(r.new_tokens for r in records),
        "generate_tokens_per_s": median(r.new_tokens / r.phases["generate"] for r in records),
    } | {f"seconds_{phase}": median(r.phases[phase] for r in records) for phase in PHASES}
    if peak_flops:
        # 6 N T: forward and backward of every parameter once per trained token (Kaplan et al. 2020).
        figures["update_mfu"] = median(
            6 * parameters * r.trained_tokens / r.phases["update"] / peak_flops for r in records
        )
    return figures


def print_comparison(label: str, figures: dict[str, dict[str, float]], steps: int, warmup: int) -> None:
    columns = [
        "seconds_per_step",
        "min_seconds",
        "max_seconds",
        "generate_tokens_per_s",
        "seconds_generate",
        "seconds_score",
        "seconds_reference",
        "seconds_update",
        "cpu_seconds_per_step",
        "system_seconds_per_step",
        "new_tokens_per_step",
    ]
    if "update_mfu" in figures["ahf"]:
        columns.append("update_mfu")
    print(f"\n{label}; medians of {steps} steps each after {warmup} warm-up\n")
    print("| trainer | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name, row in figures.items():
        print(
            f"| {name} | "
            + " | ".join(f"{row[c]:.3g}" if c != "new_tokens_per_step" else f"{row[c]:.0f}" for c in columns)
            + " |"
        )
    ratio = figures["ahf"]["seconds_per_step"] / figures["TRL"]["seconds_per_step"]
    print(f"\nahf/TRL seconds per step: {ratio:.2f} (target: at most 0.7)", flush=True)


def run_comparison(args, model_config: ModelConfig, config: RLConfig) -> dict:
    import trl

    device = torch.device(args.device)
    total = args.warmup + args.steps
    data = bench_data(model_config, config, total * PROMPTS_PER_STEP)
    tiny = Shape("tiny", model_config.n_layer, model_config.n_head, model_config.n_embd, trained=data.trained)
    shapes = [tiny] + ([GPT2_XL] if device.type == "cuda" else [])
    precision = "bf16 autocast" if device.type == "cuda" else "fp32"
    print(
        f"prompts: {data.source}; {PROMPTS_PER_STEP} prompts x {SAMPLES_PER_PROMPT} samples x {NEW_TOKENS} new tokens "
        f"a step; {device.type}, {precision}, torch threads: {torch.get_num_threads()}; TRL {trl.__version__}"
    )
    results = {}
    for shape in shapes:
        ahf_clock, trl_clock, parameters = compare(shape, data, model_config, config, device, total)
        peak = args.peak_tflops * 1e12 if device.type == "cuda" else None
        figures = {
            name: summary(clock.records[args.warmup :], parameters, peak)
            for name, clock in (("ahf", ahf_clock), ("TRL", trl_clock))
        }
        label = (
            f"{shape.name} shape: {shape.n_layer} layers, {shape.n_head} heads, {shape.n_embd} wide, "
            f"vocab {len(data.tokenizer)}, {parameters / 1e6:.1f}M parameters"
        )
        print_comparison(label, figures, args.steps, args.warmup)
        results[shape.name] = figures
    return results


def run_profile(args, model_config: ModelConfig, config: RLConfig) -> None:
    """ahf alone: the median seconds of each phase, its pieces, then the torch ops of one rollout and of one step."""
    from torch.profiler import ProfilerActivity, profile

    device = torch.device(args.device)
    total = args.warmup + args.steps + 1
    data = bench_data(model_config, config, total * PROMPTS_PER_STEP)
    shape = Shape("tiny", model_config.n_layer, model_config.n_head, model_config.n_embd, trained=data.trained)
    batches = step_batches(data.prompts, total)
    with tempfile.TemporaryDirectory() as scratch:
        policy_folder = save_policy(shape, model_config, data.tokenizer, Path(scratch) / "policy")
        trainer = ahf_trainer(
            policy_folder,
            reward_scorer(shape, model_config, data.tokenizer, device),
            data,
            model_config,
            config,
            device,
        )
    clock = StepClock(trainer.timer, device)
    for index in range(args.warmup + args.steps):
        ahf_step(trainer, clock, index, batches[index], total, 0)
    records = clock.records[args.warmup :]
    step_seconds = statistics.median(r.seconds for r in records)
    print(
        f"prompts: {data.source}; ahf's step, median of {args.steps} after {args.warmup} warm-up: {step_seconds:.3f} "
        "s\n"
    )
    print("| phase | seconds | share |\n|---|---|---|")
    for phase in PHASES:
        seconds = statistics.median(r.phases[phase] for r in records)
        print(f"| {phase} | {seconds:.3f} | {seconds / step_seconds:.0%} |")
    print_phase_pieces(trainer, batches[-1], device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    sort_by = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    last = batches[-1]
    for what, run in (
        (
            "one rollout (the generate phase)",
            lambda: trainer.rollout(trainer.m.policy, last, SAMPLES_PER_PROMPT, trainer.sampling, trainer.generator),
        ),
        ("one whole step", lambda: trainer.step(total - 1, last, total)),
    ):
        with profile(activities=activities) as profiler:
            started = time.perf_counter()
            run()
            synchronize(device)
            wall = time.perf_counter() - started
        events = profiler.key_averages()
        op_seconds = sum(event.self_cpu_time_total for event in events) / 1e6
        print(
            f"\n{what}: {wall:.3f} s wall (under the profiler), {op_seconds:.3f} s inside torch ops, "
            f"so {max(wall - op_seconds, 0.0):.3f} s of Python between them; the ops by self time:\n"
        )
        print(events.table(sort_by=sort_by, row_limit=args.profile_rows))


def print_phase_pieces(trainer: PolicyTrainer, prompts: list[str], device: torch.device, repeats: int = 3) -> None:
    """The reference and update phases taken apart: each piece of them timed alone on one rollout."""
    policy, reference, temperature = trainer.m.policy, trainer.m.reference, trainer.config.temperature
    rollout, _ = trainer.rollout(policy, prompts, SAMPLES_PER_PROMPT, trainer.sampling, trainer.generator)
    ref_batch = trainer.reference_batch()

    def no_grad(run):
        with torch.no_grad():
            run()

    def backward(loss_of):
        trainer.optimizer.zero_grad(set_to_none=True)
        loss_of().backward()

    rollout_logprobs = partial(story_token_scores, temperature=temperature)
    pieces = {
        "reference: the reference's log-probs of the rollout": lambda: no_grad(
            lambda: rollout_logprobs(reference, rollout)
        ),
        "reference: the reference's NLL of the SFT stories": lambda: no_grad(
            lambda: trainer.reference_nll(reference, ref_batch)
        ),
        "update: the policy's log-probs of the rollout, forward": lambda: rollout_logprobs(policy, rollout),
        "update: the same, forward and backward": lambda: backward(
            lambda: rollout_logprobs(policy, rollout).logprobs.sum()
        ),
        "update: the policy's NLL of the SFT stories (alpha * llh), forward and backward": lambda: backward(
            lambda: trainer.reference_nll(policy, ref_batch)
        ),
        "update: the last-good snapshot": trainer.snapshot,
        "update: AdamW": trainer.optimizer.step,
    }
    print(
        f"\nthe reference and update phases in pieces, each alone (median of {repeats}; rollout "
        f"{tuple(rollout.sequences.shape)}, "
        f"SFT stories packed {tuple(ref_batch['input_ids'].shape)}):\n"
    )
    print("| piece | seconds |\n|---|---|")
    for name, run in pieces.items():
        seconds = []
        for _ in range(repeats):
            started = time.perf_counter()
            with trainer.autocast:
                run()
            synchronize(device)
            seconds.append(time.perf_counter() - started)
        print(f"| {name} | {statistics.median(seconds):.3f} |")
    trainer.optimizer.zero_grad(set_to_none=True)


def run_malloc_comparison(args) -> None:
    """This bench twice, in fresh processes: glibc reads its malloc settings only at start."""
    import resource

    rows = []
    for label, extra_env in (("default", {}), ("thresholds 1 GiB", LARGE_MALLOC_THRESHOLDS)):
        with tempfile.NamedTemporaryFile(suffix=".json") as report:
            command = [
                sys.executable,
                str(SCRIPT),
                "--steps",
                str(args.steps),
                "--warmup",
                str(args.warmup),
                "--device",
                args.device,
                "--summary-json",
                report.name,
            ]
            command += ["--threads", str(args.threads)] if args.threads else []
            env = {name: value for name, value in os.environ.items() if name not in LARGE_MALLOC_THRESHOLDS} | extra_env
            print(
                f"\n== malloc {label}: {' '.join(f'{k}={v}' for k, v in extra_env.items())} {' '.join(command[1:])}",
                flush=True,
            )
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(command, env=env, check=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            tiny = json.loads(Path(report.name).read_text())["tiny"]
        rows.append((label, tiny, after.ru_stime - before.ru_stime, after.ru_minflt - before.ru_minflt))
    print(
        "\n| malloc | ahf s/step | TRL s/step | ahf/TRL | ahf system s/step | TRL system s/step | process system s | "
        "minor faults |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for label, tiny, system, faults in rows:
        ahf, trl = tiny["ahf"], tiny["TRL"]
        print(
            f"| {label} | {ahf['seconds_per_step']:.3f} | {trl['seconds_per_step']:.3f} | "
            f"{ahf['seconds_per_step'] / trl['seconds_per_step']:.2f} | {ahf['system_seconds_per_step']:.3f} | "
            f"{trl['system_seconds_per_step']:.3f} | {system:.1f} | {faults:,} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps of each trainer")
    parser.add_argument("--warmup", type=int, default=2, help="steps of each trainer run first and left out")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, help="torch's intra-op threads (default: torch's choice, one per core)")
    parser.add_argument(
        "--peak-tflops", type=float, default=989.0, help="cuda: the GPU's dense bf16 peak (H100/H200: 989)"
    )
    parser.add_argument("--profile", action="store_true", help="ahf alone: its phases and the torch ops of a step")
    parser.add_argument("--profile-rows", type=int, default=15)
    parser.add_argument(
        "--compare-malloc", action="store_true", help="run twice: default glibc malloc, thresholds raised"
    )
    parser.add_argument("--summary-json", type=Path, help="also write the medians here")
    args = parser.parse_args()
    os.chdir(PROJECT)  # the stages' output paths are relative to the project root
    transformers_logging.disable_progress_bar()  # a bar for every model loaded and saved
    # TRL 1.16 still asks for a name transformers 5.23 deprecates, once per step.
    warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: no GPU here")
    if args.compare_malloc:
        return run_malloc_comparison(args)
    model_config = load_section(PARAMS, "model", ModelConfig)
    config = rl_config_for_bench()
    if args.profile:
        return run_profile(args, model_config, config)
    results = run_comparison(args, model_config, config)
    if args.summary_json:
        args.summary_json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
