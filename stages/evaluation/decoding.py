"""SFT and the policy decoded alike: the same prompts, the same sampling params and the
same seed, so that whatever differs between their stories is the models' doing.

Built from the rollout pieces RL uses (batched KV-cache sampling, the story tokens'
log-probabilities, k3 KL), so the yardstick measures exactly what RL optimised.
"""

from dataclasses import dataclass

import torch

from stages.evaluation.comparison import Decoded
from stages.modeling.sampling import SamplingConfig, decode_stories, encode_prompts, sample_rollout, story_token_scores
from stages.policy_gradient.kl import sequence_kl

# k3 is unbiased and never negative, so a per-story KL averages cleanly (as RL's evaluation).
KL_ESTIMATOR = "k3"


@dataclass
class Judges:
    """What every decode is scored with: the frozen SFT reference, the reward model, gold."""

    reference: torch.nn.Module  # SFT: KL(model || reference)
    scorer: object  # RewardScorer
    tokenizer: object
    max_prompt_tokens: int
    max_tokens: int
    gold_of: object = None  # gold(prompt, story), simulated source only


@torch.no_grad()
def decode(
    model,
    judges: Judges,
    prompts: list[str],
    samples: int,
    sampling: SamplingConfig,
    seed: int,
    batch_size: int,
    with_kl: bool,
) -> Decoded:
    """`samples` stories per prompt, in batches of `batch_size` rows, from one generator
    seeded with `seed`: two models given the same arguments draw from the same stream."""
    device = next(model.parameters()).device
    tokenizer = judges.tokenizer
    generator = None if sampling.greedy else torch.Generator(device=device).manual_seed(seed)
    rows = [ids for ids in encode_prompts(tokenizer, prompts, judges.max_prompt_tokens) for _ in range(samples)]
    stories: list[str] = []
    kl: list[float] = []
    for start in range(0, len(rows), batch_size):
        rollout = sample_rollout(
            model,
            rows[start : start + batch_size],
            sampling,
            eos_id=tokenizer.eos_token_id,
            pad_id=tokenizer.pad_token_id,
            max_tokens=judges.max_tokens,
            generator=generator,
        )
        stories += decode_stories(tokenizer, rollout)
        if with_kl:
            # Logits divided by the sampling temperature: KL between the distributions sampled from.
            logprobs = story_token_scores(model, rollout, temperature=sampling.temperature).logprobs
            ref_logprobs = story_token_scores(judges.reference, rollout, temperature=sampling.temperature).logprobs
            kl += sequence_kl(logprobs, ref_logprobs, rollout.story_mask.float(), KL_ESTIMATOR).tolist()
    repeated = [p for p in prompts for _ in range(samples)]
    rewards = judges.scorer.normalise(judges.scorer.score(repeated, stories)).tolist()
    gold = [judges.gold_of(p, s) for p, s in zip(repeated, stories, strict=True)] if judges.gold_of else None
    return Decoded(repeated, stories, rewards, gold, kl if with_kl else None)
