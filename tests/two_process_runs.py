"""The runs tests/common/test_distributed.py compares: an SFT optimisation and an RL update
on a tiny GPT-2, computed once in the test's own process and once by each of the
processes `accelerate launch` starts with this file (`python two_process_runs.py FOLDER`).

Dropout is off and the RL rollout is a fixed one read from FOLDER: what may differ
between the two is only how the work is split, which is what the test is about.
"""

import sys
from functools import partial
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from transformers import AutoTokenizer, GPT2LMHeadModel

from stages.common.config import ModelConfig, RLConfig, SftConfig
from stages.common.distributed import DataParallel, SilentLive, leave_process_group
from stages.modeling.base_model import tiny_gpt2_config, with_pad_token
from stages.modeling.sampling import Rollout
from stages.modeling.story_format import LengthGroupedBatches, encode_story, lm_batch
from stages.modeling.training_loop import accelerator_for, fit
from stages.policy_gradient.trainer import PolicyTrainer, RLModels
from stages.sft import lm_loss, story_tokens

TINY = ModelConfig(n_layer=2, n_head=2, n_embd=32, max_tokens=48, max_prompt_tokens=16)
# 27 stories in batches of 8: three full batches and one of 3, which 2 processes split 2 + 1.
SFT = SftConfig(batch_size=8, max_steps=4, eval_every=2, warmup_steps=1, lr=3e-3, patience=0)
WORDS = [
    "the",
    "dragon",
    "kept",
    "a",
    "lantern",
    "by",
    "the",
    "river",
    "where",
    "every",
    "storm",
    "began",
    "and",
    "ended",
]
SFT_STORIES = [(f"[WP] Prompt number {i}", " ".join(WORDS[: 2 + (7 * i) % 13])) for i in range(27)]
RL_PROMPTS = [
    "[WP] A dragon guards the last library.",
    "[WP] The moon sends a letter.",
    "[WP] You wake up as a cat.",
    "[WP] Rain that falls upward.",
]
RL = RLConfig(
    algo="rloo",
    prompts_per_step=4,
    samples_per_prompt=3,
    max_new_tokens=8,
    lr=3e-3,
    warmup_steps=0,
    kl_coef=0.1,
    ref_batch_size=4,
    max_ref_nll_ratio=100.0,
)


def tiny_lm(tokenizer) -> GPT2LMHeadModel:
    torch.manual_seed(0)
    config = tiny_gpt2_config(TINY, tokenizer)
    config.resid_pdrop = config.embd_pdrop = config.attn_pdrop = 0.0
    return GPT2LMHeadModel(config)


def encoded(tokenizer, rows):
    return [encode_story(tokenizer, p, s, TINY.max_prompt_tokens, TINY.max_tokens, add_eos=True) for p, s in rows]


def sft_run(tokenizer) -> tuple[dict[str, torch.Tensor], list[float]]:
    """The weights after SFT.max_steps updates, and the evaluations the loop saw."""
    examples = encoded(tokenizer, SFT_STORIES)
    collate = partial(lm_batch, pad_id=tokenizer.pad_token_id)
    batches = LengthGroupedBatches([len(e.input_ids) for e in examples], SFT.batch_size, seed=0)
    loader = DataLoader(examples, batch_sampler=batches, collate_fn=collate)
    held_out = collate(examples[:5])
    evaluations: list[float] = []

    def evaluate(model):
        return {"sft/held_out_loss": float(lm_loss(model, {k: v.to(model.device) for k, v in held_out.items()}))}

    model = tiny_lm(tokenizer)
    accelerator = accelerator_for(SFT)
    fit(
        model=model,
        loader=loader,
        loss_of=lm_loss,
        evaluate=evaluate,
        monitor="sft/held_out_loss",
        higher_is_better=False,
        on_best=lambda best, step: evaluations.append(step),
        config=SFT,
        accelerator=accelerator,
        live=SilentLive(),
        prefix="sft",
        items_of=story_tokens,
    )
    return {k: v.detach().cpu().clone() for k, v in accelerator.unwrap_model(model).state_dict().items()}, evaluations


class LetterScorer:
    """A reward read from the text alone: the share of its characters that are 'e'."""

    def score(self, prompts, stories):
        return torch.tensor([10.0 * story.count("e") / max(len(story), 1) for story in stories])

    def normalise(self, rewards):
        return rewards


def rl_trainer(tokenizer, parallel: DataParallel) -> PolicyTrainer:
    policy, reference = tiny_lm(tokenizer), tiny_lm(tokenizer)
    models = RLModels(policy, reference, LetterScorer(), tokenizer, TINY.max_prompt_tokens, TINY.max_tokens)
    stories = encoded(tokenizer, [(p, "Once there was a tale to tell of rain.") for p in RL_PROMPTS])
    return PolicyTrainer(
        models, RL, alpha=1.0, reference_stories=stories, pairs=None, device=parallel.device, parallel=parallel
    )


def fixed_rollout(tokenizer) -> dict:
    """Stories sampled once for every prompt, to be replayed by each run."""
    trainer = rl_trainer(tokenizer, DataParallel())
    generator = torch.Generator().manual_seed(7)
    rollout, stories = trainer.rollout(trainer.m.policy, RL_PROMPTS, RL.samples_per_prompt, trainer.sampling, generator)
    return {
        "sequences": rollout.sequences,
        "attention_mask": rollout.attention_mask,
        "story_mask": rollout.story_mask,
        "prompt_width": rollout.prompt_width,
        "stories": stories,
    }


def rl_run(tokenizer, fixed: dict, parallel: DataParallel) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """The policy's weights and the step's figures after one update on this process's prompts."""
    trainer = rl_trainer(tokenizer, parallel)
    k = RL.samples_per_prompt

    def replay(model, prompts, samples, sampling, generator):
        rows = [RL_PROMPTS.index(prompt) * k + j for prompt in prompts for j in range(k)]
        part = Rollout(
            fixed["sequences"][rows], fixed["attention_mask"][rows], fixed["story_mask"][rows], fixed["prompt_width"]
        )
        return part, [fixed["stories"][row] for row in rows]

    trainer.rollout = replay
    outcome = trainer.step(0, parallel.take(RL_PROMPTS), RL.steps)
    assert outcome.diverged is None, outcome.diverged
    return {k: v.detach().cpu().clone() for k, v in trainer.m.policy.state_dict().items()}, outcome.metrics


def load_tokenizer(folder: Path):
    return with_pad_token(AutoTokenizer.from_pretrained(folder / "tokenizer"))


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    tokenizer = load_tokenizer(folder)
    sft_weights, sft_evaluations = sft_run(tokenizer)
    parallel = DataParallel.start()
    rl_weights, rl_metrics = rl_run(tokenizer, torch.load(folder / "rollout.pt"), parallel)
    if parallel.is_main:
        torch.save(
            {
                "processes": parallel.count,
                "sft": sft_weights,
                "sft_evaluations": sft_evaluations,
                "rl": rl_weights,
                "rl_metrics": rl_metrics,
            },
            folder / "launched.pt",
        )
    leave_process_group()
