"""The reward model: a sequence classifier over (prompt, story) with a head on the last
non-pad token, and the scorer RL will use to reward any batch of stories.

Saved with save_pretrained (AutoModelForSequenceClassification loads it anywhere),
plus reward.json: the kind, the tier values, the token limits it was trained with,
and the mean/std of its rewards on the train split so RL can normalise them.
"""

import json
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, GPT2ForSequenceClassification

from stages.common.config import ModelConfig, RewardConfig
from stages.common.contracts import TIERS
from stages.common.errors import StageError
from stages.common.layout import SFT_DIR
from stages.modeling.base_model import load_fused, load_pretrained, tiny_gpt2_config, with_pad_token
from stages.modeling.reward_losses import expected_tier_value
from stages.modeling.story_format import encode_story, lm_batch

OUTPUTS = {"tier": len(TIERS), "pairwise": 1, "listwise": 1}
HEAD_FILE = "reward.json"


@dataclass(frozen=True)
class RewardHead:
    """What turns the classifier's logits into one reward, and how to normalise it."""

    kind: str
    tier_values: tuple[float, ...]  # in TIERS order: bad, ok, good
    max_tokens: int
    max_prompt_tokens: int
    train_mean: float = 0.0
    train_std: float = 1.0


def rewards_from_logits(logits: torch.Tensor, head: RewardHead) -> torch.Tensor:
    if head.kind == "tier":
        return expected_tier_value(logits, torch.tensor(head.tier_values))
    return logits[:, 0].float()


def new_reward_model(config: RewardConfig, model_config: ModelConfig, tokenizer):
    """Backbone from the SFT model (default) or the base; a fresh head of OUTPUTS[kind]."""
    outputs = OUTPUTS[config.kind]
    if config.init == "sft":
        if not SFT_DIR.exists():
            raise StageError(f"{SFT_DIR} not found: run `ahf sft` first, or set reward.init: base")
        model = load_pretrained(AutoModelForSequenceClassification, SFT_DIR, "the SFT model", num_labels=outputs)
    elif model_config.base == "tiny":
        backbone_config = tiny_gpt2_config(model_config, tokenizer)
        backbone_config.num_labels = outputs
        model = GPT2ForSequenceClassification(backbone_config)
    else:
        model = load_pretrained(
            AutoModelForSequenceClassification, model_config.base, "the base model", num_labels=outputs
        )
    model.config.pad_token_id = tokenizer.pad_token_id
    return model


class RewardScorer:
    """Scores any batch of (prompt, story): raw rewards, or normalised by the train statistics."""

    def __init__(self, model, tokenizer, head: RewardHead):
        self.model, self.tokenizer, self.head = model, with_pad_token(tokenizer), head
        self.encode = partial(
            encode_story,
            self.tokenizer,
            max_prompt_tokens=head.max_prompt_tokens,
            max_tokens=head.max_tokens,
            add_eos=False,
        )

    @classmethod
    def load(cls, path: Path, device: str | torch.device = "cpu") -> "RewardScorer":
        fields = json.loads((Path(path) / HEAD_FILE).read_text())
        head = RewardHead(**fields | {"tier_values": tuple(fields["tier_values"])})
        model = load_fused(AutoModelForSequenceClassification, path, "the reward model").to(device).eval()
        return cls(model, load_pretrained(AutoTokenizer, path, "the reward tokenizer"), head)

    def save(self, path: Path) -> None:
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        (Path(path) / HEAD_FILE).write_text(json.dumps(asdict(self.head), indent=2) + "\n")

    @torch.no_grad()
    def logits(self, prompts: list[str], stories: list[str], batch_size: int = 64) -> torch.Tensor:
        """The head's outputs in input order; scored shortest first so each batch pads little."""
        device = next(self.model.parameters()).device
        encoded = [self.encode(p, s) for p, s in zip(prompts, stories, strict=True)]
        order = sorted(range(len(encoded)), key=lambda index: len(encoded[index].input_ids))
        outputs = torch.empty(len(encoded), self.model.config.num_labels)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch = lm_batch([encoded[row] for row in rows], self.tokenizer.pad_token_id)
            outputs[rows] = (
                self.model(
                    input_ids=batch["input_ids"].to(device),
                    attention_mask=batch["attention_mask"].to(device),
                    use_cache=False,
                )
                .logits.float()
                .cpu()
            )
        return outputs

    def score(self, prompts: list[str], stories: list[str], batch_size: int = 64) -> torch.Tensor:
        """Raw rewards, one per (prompt, story)."""
        return rewards_from_logits(self.logits(prompts, stories, batch_size), self.head)

    def normalise(self, rewards: torch.Tensor) -> torch.Tensor:
        return (rewards - self.head.train_mean) / self.head.train_std
