"""One RL step after another, CleanRL-style: every step of the algorithm in order.

Online step: sample stories for a batch of train prompts (KV cache, batched), score
them with the frozen reward model, score their tokens under the frozen SFT reference,
compute the estimator's advantages, and update the policy on

    loss = pg_loss - alpha * llh(reference stories) [+ kl_coef * KL] [+ value_coef * value_loss]

`dpo` replaces the rollout with a batch of preference pairs. Divergence (a non-finite
loss or gradient, or the reference stories' NLL past max_ref_nll_ratio times SFT's on
the same batch) is an outcome: the step is not taken, the last good weights are
restored, and the loop stops.

On N processes (stages/policy_gradient/data_parallel.py) each steps on its share of the
prompts; `parallel` averages the gradients, the figures and the checks, so all take
the same step and stop together. Alone, it does nothing.
"""

import contextlib
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import torch

from stages.common.config import RLConfig
from stages.common.distributed import DataParallel
from stages.modeling.lm_loss import story_logprob_sums, story_nll
from stages.modeling.sampling import (
    Rollout,
    SamplingConfig,
    decode_stories,
    encode_prompts,
    sample_rollout,
    story_token_scores,
)
from stages.modeling.story_format import EncodedStory, lm_batch, packed_lm_batch
from stages.modeling.text_metrics import distinct_n
from stages.policy_gradient.advantages import ema_baseline
from stages.policy_gradient.critic import ValueHead
from stages.policy_gradient.estimators import RolloutSignals, advantages_for, folds_kl_into_reward, uses_critic
from stages.policy_gradient.kl import AdaptiveKLController, FixedKLController, kl_per_token
from stages.policy_gradient.losses import dpo_loss, kl_loss, policy_gradient_loss, ppo_clipped_loss, value_loss
from stages.policy_gradient.schedules import alpha_at, lr_factor

# Evaluation's KL to SFT: k3 is unbiased and never negative, so a small sample reads well.
EVAL_KL_ESTIMATOR = "k3"


@dataclass
class RLModels:
    policy: torch.nn.Module
    reference: torch.nn.Module  # frozen SFT
    scorer: object  # RewardScorer: frozen reward model
    tokenizer: object
    max_prompt_tokens: int
    max_tokens: int


@dataclass
class StepOutcome:
    metrics: dict[str, float]
    diverged: str | None = None  # why, when the step was refused


@dataclass
class Evaluation:
    """Stories for fixed prompts and what each scorer says of them."""

    prompts: list[str]
    stories: list[str]
    rewards: list[float]
    gold: list[float] | None
    kl: float
    distinct_2: float

    def summary(self, prefix: str) -> dict[str, float]:
        summary = {
            f"{prefix}/reward": float(np.mean(self.rewards)),
            f"{prefix}/kl": self.kl,
            f"{prefix}/distinct_2": self.distinct_2,
        }
        if self.gold is not None:
            summary[f"{prefix}/gold"] = float(np.mean(self.gold))
            summary[f"{prefix}/gold_std"] = float(np.std(self.gold))
        return summary


@dataclass
class PhaseTimer:
    """Seconds spent per phase of the step (generate, score, reference, update)."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @contextlib.contextmanager
    def phase(self, name: str, device: torch.device):
        started = time.perf_counter()
        yield
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        self.seconds[name] += time.perf_counter() - started


class PolicyTrainer:
    def __init__(
        self,
        models: RLModels,
        config: RLConfig,
        alpha: float,
        reference_stories: list[EncodedStory],
        pairs: list[tuple[EncodedStory, EncodedStory]] | None,
        device: torch.device,
        gold_of=None,
        parallel: DataParallel = DataParallel(),
    ):
        self.m, self.config, self.alpha, self.device, self.parallel = models, config, alpha, device, parallel
        self.reference_stories, self.pairs, self.gold_of = reference_stories, pairs, gold_of
        self.pad_id, self.eos_id = models.tokenizer.pad_token_id, models.tokenizer.eos_token_id
        # Dropout off everywhere: the log-probs trained on must be those the tokens were sampled from.
        for model in (models.policy, models.reference):
            model.eval()
        models.reference.requires_grad_(False)
        self.critic = None
        groups = [{"params": [p for p in models.policy.parameters() if p.requires_grad], "lr": config.lr}]
        if config.algo != "dpo" and uses_critic(config.algo, config.ppo_advantage):
            self.critic = ValueHead(models.policy.config.hidden_size, config.critic_layers).to(device)
            groups.append({"params": list(self.critic.parameters()), "lr": config.critic_lr})
        parallel.broadcast_parameters(p for group in groups for p in group["params"])
        self.optimizer = torch.optim.AdamW(groups, weight_decay=0.0)
        total_updates = config.steps * (config.ppo_epochs * config.ppo_minibatches if config.algo == "ppo" else 1)
        self.lr_schedule = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda update: lr_factor(update, config.warmup_steps, total_updates, config.lr_decay)
        )
        self.kl_controller = (
            AdaptiveKLController(config.kl_coef, config.kl_target, config.kl_horizon)
            if config.kl_target
            else FixedKLController(config.kl_coef)
        )
        self.sampling = SamplingConfig(config.max_new_tokens, config.temperature, config.top_k, config.top_p)
        self.greedy = SamplingConfig(config.max_new_tokens, greedy=True)
        # Each process samples its own prompts' stories from its own stream.
        self.generator = torch.Generator(device=device).manual_seed(config.seed + parallel.index)
        self.draws = np.random.default_rng(config.seed)
        self.baseline: float | None = None
        self.timer = PhaseTimer()
        self.autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16)
            if device.type == "cuda" and config.mixed_precision in ("auto", "bf16")
            else contextlib.nullcontext()
        )
        self.last_good = self.snapshot()

    # ---- pieces of a step -------------------------------------------------------------

    def snapshot(self) -> dict[str, torch.Tensor]:
        return {name: value.detach().clone() for name, value in self.m.policy.state_dict().items()}

    def restore_last_good(self) -> None:
        self.m.policy.load_state_dict(self.last_good)

    def rollout(
        self, model, prompts: list[str], samples: int, sampling: SamplingConfig, generator
    ) -> tuple[Rollout, list[str]]:
        rows = [
            ids for ids in encode_prompts(self.m.tokenizer, prompts, self.m.max_prompt_tokens) for _ in range(samples)
        ]
        with self.autocast:
            rollout = sample_rollout(
                model,
                rows,
                sampling,
                eos_id=self.eos_id,
                pad_id=self.pad_id,
                max_tokens=self.m.max_tokens,
                generator=generator,
            )
        return rollout, decode_stories(self.m.tokenizer, rollout)

    def rewards(self, prompts: list[str], stories: list[str]) -> torch.Tensor:
        """Normalised reward-model scores (train mean 0, std 1), on the step's device."""
        with self.autocast:
            raw = self.m.scorer.score(prompts, stories)
        return self.m.scorer.normalise(raw).float().to(self.device)

    def reference_batch(self) -> dict[str, torch.Tensor]:
        rows = self.draws.choice(
            len(self.reference_stories),
            size=min(self.config.ref_batch_size, len(self.reference_stories)),
            replace=False,
        )
        batch = packed_lm_batch([self.reference_stories[row] for row in rows], self.pad_id, self.m.max_tokens)
        return {name: tensor.to(self.device) for name, tensor in batch.items()}

    def reference_nll(self, model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Mean NLL per story token of reference_batch's packed stories: -llh, the SFT objective."""
        with self.autocast:
            logits = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits
        nll, count = story_nll(logits, batch["labels"])
        return nll / count.clamp(min=1)

    def divergence(self, loss: torch.Tensor, policy_nll: float, sft_nll: float) -> str | None:
        loss_value = self.parallel.mean_of(loss.item())  # every process refuses the step, or none
        if not math.isfinite(loss_value):
            return f"the loss became {loss_value}"
        ratio = policy_nll / sft_nll
        if ratio > self.config.max_ref_nll_ratio:
            limit = self.config.max_ref_nll_ratio
            return f"the reference stories' NLL rose to {ratio:.2f}x SFT's (rl.max_ref_nll_ratio {limit})"
        return None

    def apply(self, loss: torch.Tensor) -> tuple[float, str | None]:
        """Backward and step; a non-finite gradient norm refuses the step."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        parameters = [p for group in self.optimizer.param_groups for p in group["params"]]
        self.parallel.average_gradients(parameters)
        grad_norm = float(torch.nn.utils.clip_grad_norm_(parameters, self.config.max_grad_norm))
        if not math.isfinite(grad_norm):
            return grad_norm, f"the gradient norm became {grad_norm}"
        # These weights passed every check: they are the ones to fall back on.
        self.last_good = self.snapshot()
        self.optimizer.step()
        self.lr_schedule.step()
        return grad_norm, None

    # ---- one step ---------------------------------------------------------------------

    def step(self, step: int, prompts: list[str], total_steps: int) -> StepOutcome:
        alpha = alpha_at(step, total_steps, self.alpha, self.config.alpha_schedule)
        outcome = self.dpo_step(alpha) if self.config.algo == "dpo" else self.online_step(prompts, alpha)
        outcome.metrics |= {"rl/alpha": alpha, "rl/kl_coef": self.kl_controller.value}
        outcome.metrics = self.parallel.mean(outcome.metrics)
        if outcome.diverged:
            self.restore_last_good()
        return outcome

    def online_step(self, prompts: list[str], alpha: float) -> StepOutcome:
        config, device, timer = self.config, self.device, self.timer
        k = config.samples_per_prompt
        started = time.perf_counter()
        generate_before = timer.seconds["generate"]
        with timer.phase("generate", device):
            rollout, stories = self.rollout(self.m.policy, prompts, k, self.sampling, self.generator)
            greedy_stories = (
                self.rollout(self.m.policy, prompts, 1, self.greedy, None)[1] if config.algo == "scst" else None
            )
        with timer.phase("score", device):
            rewards = self.rewards([p for p in prompts for _ in range(k)], stories)
            greedy_rewards = self.rewards(prompts, greedy_stories) if greedy_stories is not None else None
        mask = rollout.story_mask.float()
        with timer.phase("reference", device), torch.no_grad(), self.autocast:
            ref_logprobs = story_token_scores(self.m.reference, rollout, temperature=config.temperature).logprobs
            ref_batch = self.reference_batch()
            sft_nll = float(self.reference_nll(self.m.reference, ref_batch))
        kl_coef = self.kl_controller.value
        kl_in_reward = folds_kl_into_reward(config.algo, config.kl_in)

        with timer.phase("update", device):
            if config.algo == "ppo":
                metrics, diverged = self.ppo_update(
                    rollout, rewards, ref_logprobs, ref_batch, sft_nll, mask, alpha, kl_coef, kl_in_reward
                )
            else:
                metrics, diverged = self.single_update(
                    rollout,
                    rewards,
                    greedy_rewards,
                    ref_logprobs,
                    ref_batch,
                    sft_nll,
                    mask,
                    alpha,
                    kl_coef,
                    kl_in_reward,
                )
        if config.algo == "reinforce":
            self.baseline = ema_baseline(self.baseline, rewards, config.baseline_decay)
        self.kl_controller.update(self.parallel.mean_of(metrics["rl/kl"]), len(stories) * self.parallel.count)
        seconds = time.perf_counter() - started
        tokens = int(mask.sum())
        metrics |= {
            "rl/reward_mean": float(rewards.mean()),
            "rl/reward_std": float(rewards.std()),
            "rl/story_tokens": tokens / len(stories),
            "rl/tokens_per_s": tokens / seconds,
            "rl/generate_share": (timer.seconds["generate"] - generate_before) / seconds,
            "rl/sft_ref_nll": sft_nll,
        }
        return StepOutcome(metrics, diverged)

    def signals(self, rewards, greedy_rewards, kl_tokens, mask, kl_coef, kl_in_reward, values) -> RolloutSignals:
        return RolloutSignals(
            rewards=rewards,
            mask=mask,
            kl_tokens=kl_tokens.detach(),
            kl_coef=kl_coef,
            kl_in_reward=kl_in_reward,
            samples_per_prompt=self.config.samples_per_prompt,
            baseline=self.baseline,
            greedy_rewards=greedy_rewards,
            values=values,
        )

    def loss_terms(self, logprobs, ref_logprobs, mask, kl_in_reward):
        kl_tokens = kl_per_token(logprobs, ref_logprobs, self.config.kl_estimator) * mask
        kl_term = kl_loss(kl_tokens.sum(dim=1)) if not kl_in_reward else torch.zeros((), device=self.device)
        return kl_tokens, kl_term

    def single_update(
        self, rollout, rewards, greedy_rewards, ref_logprobs, ref_batch, sft_nll, mask, alpha, kl_coef, kl_in_reward
    ):
        config = self.config
        with self.autocast:
            scores = story_token_scores(
                self.m.policy,
                rollout,
                with_hidden=self.critic is not None,
                temperature=config.temperature,
                with_entropy=True,
            )
        values = self.critic(scores.hidden) * mask if self.critic is not None else None
        kl_tokens, kl_term = self.loss_terms(scores.logprobs, ref_logprobs, mask, kl_in_reward)
        algo = config.algo
        advantages, returns = advantages_for(
            algo,
            self.signals(rewards, greedy_rewards, kl_tokens, mask, kl_coef, kl_in_reward, values),
            scale_rewards=config.scale_rewards,
            gae_gamma=config.gae_gamma,
            gae_lambda=config.gae_lambda,
        )
        pg = policy_gradient_loss(scores.logprobs, advantages, mask)
        policy_nll = self.reference_nll(self.m.policy, ref_batch)
        loss = pg + alpha * policy_nll + kl_coef * kl_term
        critic_loss = value_loss(values, returns, mask) if values is not None else torch.zeros((), device=self.device)
        loss = loss + config.value_coef * critic_loss
        diverged = self.divergence(loss.detach(), policy_nll.item(), sft_nll)
        grad_norm = float("nan")
        if diverged is None:
            grad_norm, diverged = self.apply(loss)
        story_tokens = mask.sum().clamp(min=1)
        metrics = {
            "rl/policy_loss": pg.item(),
            "rl/loss": loss.item(),
            "rl/ref_nll": policy_nll.item(),
            "rl/kl": kl_tokens.sum(dim=1).mean().item(),
            "rl/entropy": float(scores.entropy.sum() / story_tokens),
            "rl/advantage_std": advantages[mask.bool()].std().item() if mask.sum() > 1 else 0.0,
            "rl/grad_norm": grad_norm,
        }
        if values is not None:
            metrics["rl/value_loss"] = critic_loss.item()
        return metrics, diverged

    def ppo_update(self, rollout, rewards, ref_logprobs, ref_batch, sft_nll, mask, alpha, kl_coef, kl_in_reward):
        """rl.ppo_epochs passes over the rollout in rl.ppo_minibatches minibatches of whole
        prompts (so RLOO's groups stay together), advantages fixed from the rollout's policy."""
        config = self.config
        with torch.no_grad(), self.autocast:
            old = story_token_scores(
                self.m.policy, rollout, with_hidden=self.critic is not None, temperature=config.temperature
            )
            old_logprobs = old.logprobs
            values = self.critic(old.hidden) * mask if self.critic is not None else None
            kl_tokens, _ = self.loss_terms(old_logprobs, ref_logprobs, mask, kl_in_reward)
            advantages, returns = advantages_for(
                "ppo_gae" if self.critic is not None else "ppo_rloo",
                self.signals(rewards, None, kl_tokens, mask, kl_coef, kl_in_reward, values),
                scale_rewards=config.scale_rewards,
                gae_gamma=config.gae_gamma,
                gae_lambda=config.gae_lambda,
            )
        prompts = rollout.sequences.size(0) // config.samples_per_prompt
        sums: dict[str, list[float]] = defaultdict(list)
        for _ in range(config.ppo_epochs):
            order = torch.randperm(prompts, generator=torch.Generator().manual_seed(int(self.draws.integers(2**31))))
            for chunk in order.chunk(min(config.ppo_minibatches, prompts)):
                rows = (
                    (chunk.unsqueeze(1) * config.samples_per_prompt + torch.arange(config.samples_per_prompt))
                    .reshape(-1)
                    .to(self.device)
                )
                part = Rollout(
                    rollout.sequences[rows],
                    rollout.attention_mask[rows],
                    rollout.story_mask[rows],
                    rollout.prompt_width,
                )
                part_mask = mask[rows]
                with self.autocast:
                    scores = story_token_scores(
                        self.m.policy,
                        part,
                        with_hidden=self.critic is not None,
                        temperature=config.temperature,
                        with_entropy=True,
                    )
                pg, clip_share = ppo_clipped_loss(
                    scores.logprobs, old_logprobs[rows], advantages[rows], part_mask, config.clip_eps
                )
                _part_kl, kl_term = self.loss_terms(scores.logprobs, ref_logprobs[rows], part_mask, kl_in_reward)
                policy_nll = self.reference_nll(self.m.policy, ref_batch)
                loss = pg + alpha * policy_nll + kl_coef * kl_term
                if self.critic is not None:
                    loss = loss + config.value_coef * value_loss(
                        self.critic(scores.hidden) * part_mask, returns[rows], part_mask
                    )
                diverged = self.divergence(loss.detach(), policy_nll.item(), sft_nll)
                if diverged is None:
                    grad_norm, diverged = self.apply(loss)
                    sums["rl/grad_norm"].append(grad_norm)
                if diverged:
                    return self.mean_metrics(sums), diverged
                sums["rl/policy_loss"].append(pg.item())
                sums["rl/loss"].append(loss.item())
                sums["rl/ref_nll"].append(policy_nll.item())
                sums["rl/clip_share"].append(clip_share.item())
                sums["rl/entropy"].append(float(scores.entropy.sum() / part_mask.sum().clamp(min=1)))
        metrics = self.mean_metrics(sums)
        metrics |= {
            "rl/kl": float(kl_tokens.sum(dim=1).mean()),
            "rl/advantage_std": float(advantages[mask.bool()].std()),
        }
        return metrics, None

    @staticmethod
    def mean_metrics(sums: dict[str, list[float]]) -> dict[str, float]:
        return {name: float(np.mean(values)) for name, values in sums.items()} | {"rl/kl": float("nan")}

    def dpo_step(self, alpha: float) -> StepOutcome:
        """Offline: a batch of train preference pairs, no sampling (Rafailov et al. 2023)."""
        config, device = self.config, self.device
        started = time.perf_counter()
        rows = self.parallel.take(
            self.draws.choice(len(self.pairs), size=min(config.dpo_batch_size, len(self.pairs)), replace=False)
        )
        chosen = lm_batch([self.pairs[row][0] for row in rows], self.pad_id)
        rejected = lm_batch([self.pairs[row][1] for row in rows], self.pad_id)
        batches = [{name: tensor.to(device) for name, tensor in batch.items()} for batch in (chosen, rejected)]

        def logprob_sums(model, batch):
            with self.autocast:
                logits = model(
                    input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False
                ).logits
            return story_logprob_sums(logits, batch["labels"])

        with self.timer.phase("reference", device), torch.no_grad():
            ref_chosen, ref_rejected = (logprob_sums(self.m.reference, batch) for batch in batches)
            ref_batch = self.reference_batch()
            sft_nll = float(self.reference_nll(self.m.reference, ref_batch))
        with self.timer.phase("update", device):
            policy_chosen, policy_rejected = (logprob_sums(self.m.policy, batch) for batch in batches)
            preference = dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, config.dpo_beta)
            policy_nll = self.reference_nll(self.m.policy, ref_batch)
            loss = preference + alpha * policy_nll
            diverged = self.divergence(loss.detach(), policy_nll.item(), sft_nll)
            grad_norm = float("nan")
            if diverged is None:
                grad_norm, diverged = self.apply(loss)
        margin = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
        metrics = {
            "rl/policy_loss": preference.item(),
            "rl/loss": loss.item(),
            "rl/ref_nll": policy_nll.item(),
            "rl/sft_ref_nll": sft_nll,
            "rl/grad_norm": grad_norm,
            "rl/dpo_accuracy": float((margin > 0).float().mean()),
            "rl/tokens_per_s": float(chosen["attention_mask"].sum() + rejected["attention_mask"].sum())
            / (time.perf_counter() - started),
        }
        return StepOutcome(metrics, diverged)

    # ---- gold in the loop -------------------------------------------------------------

    @torch.no_grad()
    def evaluate(self, model, prompts: list[str], samples: int, seed: int) -> Evaluation:
        """Stories for fixed prompts with a fixed sampling seed, so SFT and the policy are
        compared on the same draws: reward, gold, KL to SFT and distinct-2."""
        generator = torch.Generator(device=self.device).manual_seed(seed)
        rollout, stories = self.rollout(model, prompts, samples, self.sampling, generator)
        repeated = [p for p in prompts for _ in range(samples)]
        rewards = self.rewards(repeated, stories).tolist()
        with self.autocast:
            logprobs = story_token_scores(model, rollout, temperature=self.config.temperature).logprobs
            ref_logprobs = story_token_scores(self.m.reference, rollout, temperature=self.config.temperature).logprobs
        mask = rollout.story_mask.float()
        kl = float((kl_per_token(logprobs, ref_logprobs, EVAL_KL_ESTIMATOR) * mask).sum(dim=1).mean())
        gold = [self.gold_of(p, s) for p, s in zip(repeated, stories, strict=True)] if self.gold_of else None
        return Evaluation(repeated, stories, rewards, gold, kl, distinct_n(stories, 2))
