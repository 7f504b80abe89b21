"""Typed params: one pydantic model per params.yaml section, validated on load.

A wrong key or a value of the wrong type fails with the key's dotted name, so the
user sees `rank.min_chars: Input should be a valid integer`, not a traceback.
"""

from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from stages.common.errors import StageError


class Section(BaseModel):
    # strict: "5" is not an int; forbid: a misspelt key is an error, not a silent default.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class RedditConfig(Section):
    """Scraping through PRAW. Credentials are never params: see sources/reddit.py."""

    listing: Literal["top", "new", "hot"] = "top"
    time_filter: Literal["all", "year", "month", "week", "day", "hour"] = "all"  # top only
    # Reddit lists about 1,000 submissions at most; None asks for all it will give.
    limit: int | None = Field(1000, ge=1)
    # Each `more` object expanded costs one request; None expands them all, 0 none.
    replace_more_limit: int | None = Field(32, ge=0)
    praw_site: str | None = None  # a praw.ini section; None: praw_* environment variables
    checkpoint_every: int = Field(25, ge=1)  # submissions between atomic writes of data/raw
    max_tries: int = Field(5, ge=1)  # per request, sent that often at most (sources/reddit_http.py)
    backoff_s: float = Field(2.0, ge=0.0)  # first wait after a failure; doubles each try
    max_backoff_s: float = Field(60.0, ge=0.0)  # the longest backoff; a server's Retry-After may ask more
    timeout_s: float = Field(16.0, gt=0.0)


class DumpConfig(Section):
    """Pushshift / Arctic Shift monthly dumps: zstandard-compressed NDJSON files."""

    submissions: list[str] = Field(default_factory=list)
    comments: list[str] = Field(default_factory=list)


class DataConfig(Section):
    source: Literal["simulated", "reddit", "dump"] = "simulated"
    subreddit: str = Field("WritingPrompts", min_length=1)
    reddit: RedditConfig = RedditConfig()
    dump: DumpConfig = DumpConfig()


class SimulateConfig(Section):
    """The simulated subreddit: size, writers and the vote model that confounds scores."""

    seed: int = 0
    n_prompts: int = Field(1000, ge=1)
    n_writers: int = Field(300, ge=1)
    stories_per_prompt: float = Field(7.0, gt=2.0)
    one_story_share: float = Field(0.05, ge=0.0, le=1.0)
    deleted_share: float = Field(0.03, ge=0.0, le=1.0)
    removed_share: float = Field(0.02, ge=0.0, le=1.0)
    reply_share: float = Field(0.2, ge=0.0, le=1.0)
    duplicate_share: float = Field(0.02, ge=0.0, le=1.0)
    popularity_sigma: float = Field(1.0, ge=0.0)
    delay_median_h: float = Field(2.0, gt=0.0)
    delay_sigma: float = Field(1.0, ge=0.0)
    attention_tau_h: float = Field(4.0, gt=0.0)
    quality_weight: float = 1.0
    vote_noise: float = Field(0.4, ge=0.0)
    base_votes: float = Field(30.0, gt=0.0)
    start_utc: int = 1609459200


class RankConfig(Section):
    """Story selection, feedback signals, tiers, splits and preference pairs."""

    min_chars: int = Field(50, ge=0)
    min_stories: int = Field(2, ge=1)
    # What a story's feedback is (stages/ranking/feedback_signals.py): its votes, de-confounded
    # as `deconfound` says; the sentiment of its replies; or both, replies weighing reply_weight.
    feedback: Literal["votes", "replies", "both"] = "votes"
    deconfound: Literal["zscore", "model"] = "model"
    reply_weight: float = Field(0.5, ge=0.0, le=1.0)
    # The replies' sentiment scorer: vader, or a local transformers sequence-classification folder.
    sentiment: str = Field("vader", min_length=1)
    w_rank: float = 1.0  # deconfound: zscore's weights
    w_time: float = 0.5
    # Quantiles of adjusted (over the train split) that separate bad | ok | good.
    tier_cutpoints: list[float] = Field(default_factory=lambda: [1 / 3, 2 / 3], min_length=2, max_length=2)
    val_share: float = Field(0.1, ge=0.0, le=1.0)
    test_share: float = Field(0.1, ge=0.0, le=1.0)
    split_seed: int = 0
    pair_rule: Literal["adjusted", "shp"] = "adjusted"
    pair_margin: float = Field(0.5, ge=0.0)
    shp_score_ratio: float = Field(2.0, ge=1.0)

    @field_validator("tier_cutpoints")
    @classmethod
    def _ordered_quantiles(cls, cutpoints: list[float]) -> list[float]:
        low, high = cutpoints
        if not 0.0 < low < high < 1.0:
            raise ValueError("cut points must satisfy 0 < low < high < 1")
        return cutpoints

    @model_validator(mode="after")
    def _leaves_train(self) -> "RankConfig":
        if self.val_share + self.test_share >= 1.0:
            raise ValueError("val_share + test_share must leave a train split")
        return self


SectionT = TypeVar("SectionT", bound=Section)


def read_params(path: Path) -> dict:
    if not path.exists():
        raise StageError(f"{path} not found: run from the project root or pass --params")
    try:
        params = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise StageError(f"{path} is not valid YAML: {error}".replace("\n", " ")) from error
    if not isinstance(params, dict):
        raise StageError(f"{path} must hold a mapping of sections")
    return params


def load_section(path: Path, name: str, model: type[SectionT]) -> SectionT:
    """Validate params.yaml's section `name`; a missing section takes the defaults."""
    raw = read_params(path).get(name) or {}
    if not isinstance(raw, dict):
        raise StageError(f"{path}: {name} must be a mapping")
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise StageError(f"{path}: {describe_validation_error(name, error)}") from error


def describe_validation_error(section: str, error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join([section, *(str(part) for part in first["loc"])])
    got = f" (got {first['input']!r})" if first["type"] not in {"missing", "value_error"} else ""
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{key}: {first['msg']}{got}{more}"


class LoraConfig(Section):
    """Low-rank adapters (Hu et al. 2021, through peft) in place of a full fine-tune; r 0 is off.

    Only the adapters (and a reward model's head) train; the saved model has them merged
    in, so every later stage reads a plain model folder.
    """

    r: int = Field(0, ge=0)
    alpha: float = Field(16.0, gt=0.0)  # the update is scaled by alpha / r
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    # GPT-2's attention (c_attn) and projections (c_proj); other bases name theirs differently.
    target_modules: list[str] = Field(default_factory=lambda: ["c_attn", "c_proj"], min_length=1)


class ModelConfig(Section):
    """The base: `tiny` is a GPT-2 trained from scratch; anything else is loaded with from_pretrained."""

    base: str = "tiny"
    # tiny only: tokenizer and architecture.
    vocab_size: int = Field(2048, ge=300)
    n_layer: int = Field(4, ge=1)
    n_head: int = Field(4, ge=1)
    n_embd: int = Field(128, ge=8)
    # Every model: how much of a (prompt, story) it reads.
    max_tokens: int = Field(192, ge=16)
    max_prompt_tokens: int = Field(48, ge=4)
    # Memory, for large bases (sft, reward, rl): recompute each block's activations in the
    # backward pass instead of keeping them (about a third more compute, far less memory).
    gradient_checkpointing: bool = False
    lora: LoraConfig = LoraConfig()

    @model_validator(mode="after")
    def _fits(self) -> "ModelConfig":
        if self.n_embd % self.n_head:
            raise ValueError("n_embd must be a multiple of n_head")
        if self.max_prompt_tokens >= self.max_tokens:
            raise ValueError("max_prompt_tokens must leave room for the story within max_tokens")
        return self


class OptimConfig(Section):
    """AdamW with linear warmup then cosine decay, evaluated every eval_every steps."""

    seed: int = 0
    batch_size: int = Field(16, ge=1)
    grad_accum: int = Field(1, ge=1)
    lr: float = Field(1e-3, gt=0.0)
    weight_decay: float = Field(0.01, ge=0.0)
    warmup_steps: int = Field(50, ge=0)
    max_steps: int = Field(600, ge=1)
    max_grad_norm: float = Field(1.0, gt=0.0)
    eval_every: int = Field(100, ge=1)
    # Stop after this many evaluations without improvement; 0 never stops early.
    patience: int = Field(3, ge=0)
    # fp32, not accelerate's "no": YAML 1.1 readers (PyYAML) turn an unquoted no into False.
    mixed_precision: Literal["fp32", "bf16", "fp16"] = "fp32"


class SftConfig(OptimConfig):
    tiers: list[Literal["good", "ok", "bad"]] = Field(default_factory=lambda: ["good", "ok"], min_length=1)
    max_eval_stories: int = Field(400, ge=1)
    # Stories written for fixed val prompts at every evaluation (reports/sft_samples.jsonl).
    sample_prompts: int = Field(3, ge=0)
    sample_max_new_tokens: int = Field(160, ge=1)
    temperature: float = Field(0.8, gt=0.0)
    top_k: int = Field(50, ge=0)


class RewardConfig(OptimConfig):
    kind: Literal["tier", "pairwise", "listwise"] = "pairwise"
    init: Literal["sft", "base"] = "sft"
    # pairwise: loss = -log sigmoid(r_chosen - r_rejected - margin_scale * margin).
    margin_scale: float = Field(0.0, ge=0.0)
    # listwise: prompts per batch (each brings all its stories).
    prompts_per_batch: int = Field(4, ge=1)
    # tier: the reward of each tier; the reward is their expectation under the classifier.
    tier_values: dict[Literal["bad", "ok", "good"], float] = Field(
        default_factory=lambda: {"bad": -1.0, "ok": 0.0, "good": 1.0}
    )

    @field_validator("tier_values")
    @classmethod
    def _every_tier(cls, values: dict[str, float]) -> dict[str, float]:
        if set(values) != {"bad", "ok", "good"}:
            raise ValueError("give a value for each of bad, ok and good")
        return values


class RLConfig(Section):
    """RL fine-tuning of the SFT policy against the reward model (docs/rl.md)."""

    algo: Literal["reinforce", "scst", "a2c", "rloo", "grpo", "reinforce_pp", "ppo", "dpo"] = "rloo"
    seed: int = 0
    steps: int = Field(40, ge=1)
    prompts_per_step: int = Field(8, ge=1)
    samples_per_prompt: int = Field(4, ge=1)
    # Sampling of rollouts (evaluation samples the same way).
    max_new_tokens: int = Field(96, ge=1)
    temperature: float = Field(1.0, gt=0.0)
    top_k: int = Field(0, ge=0)  # 0: no cut
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    lr: float = Field(1e-3, gt=0.0)
    # Linear warm-up over the first optimizer updates: Adam's first steps move every
    # weight by about lr whatever the gradient's size, a jolt away from SFT.
    warmup_steps: int = Field(5, ge=0)
    lr_decay: Literal["constant", "cosine"] = "cosine"
    max_grad_norm: float = Field(1.0, gt=0.0)
    mixed_precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 autocast on a GPU
    # The likelihood term: reference (prompt, story) pairs of these train tiers.
    alpha_schedule: list[float] | None = None  # overrides alpha, spread evenly over the steps
    ref_tiers: list[Literal["good", "ok", "bad"]] = Field(default_factory=lambda: ["good", "ok"], min_length=1)
    ref_batch_size: int = Field(16, ge=1)
    # KL to the SFT reference.
    kl_coef: float = Field(0.05, ge=0.0)
    kl_estimator: Literal["k1", "k2", "k3"] = "k3"
    kl_in: Literal["reward", "loss"] = "loss"
    kl_target: float | None = Field(None, gt=0.0)  # set: Ziegler et al.'s adaptive controller
    kl_horizon: int = Field(10000, ge=1)
    # Estimators.
    baseline_decay: float = Field(0.9, ge=0.0, lt=1.0)  # reinforce: EMA of past rewards
    scale_rewards: Literal["group", "batch", "none"] = "group"  # grpo
    critic_layers: list[int] = Field(default_factory=lambda: [256, 128])  # a2c, ppo value head
    value_coef: float = Field(0.5, ge=0.0)
    critic_lr: float = Field(1e-3, gt=0.0)
    gae_gamma: float = Field(1.0, ge=0.0, le=1.0)
    gae_lambda: float = Field(0.95, ge=0.0, le=1.0)
    clip_eps: float = Field(0.2, gt=0.0)  # ppo
    ppo_epochs: int = Field(2, ge=1)
    ppo_minibatches: int = Field(2, ge=1)
    ppo_advantage: Literal["gae", "rloo"] = "rloo"
    dpo_beta: float = Field(0.1, gt=0.0)
    dpo_batch_size: int = Field(16, ge=1)
    # Divergence: the reference stories' NLL past this multiple of SFT's stops training.
    max_ref_nll_ratio: float = Field(1.5, gt=1.0)
    # Gold in the loop: every eval_every steps, on fixed val prompts.
    eval_every: int = Field(10, ge=1)
    eval_prompts: int = Field(32, ge=1)
    eval_samples_per_prompt: int = Field(4, ge=1)

    @model_validator(mode="after")
    def _fits(self) -> "RLConfig":
        if self.algo in ("rloo", "grpo") and self.samples_per_prompt < 2:
            raise ValueError(f"{self.algo} compares the samples of a prompt: samples_per_prompt must be at least 2")
        if self.algo == "ppo" and self.ppo_advantage == "rloo" and self.samples_per_prompt < 2:
            raise ValueError("ppo_advantage rloo needs samples_per_prompt of at least 2")
        if self.alpha_schedule is not None and not self.alpha_schedule:
            raise ValueError("alpha_schedule: give at least one value, or null")
        return self


class EvaluateConfig(Section):
    """The yardstick: SFT and the policy decoded alike on the test prompts (docs/evaluate-and-report.md).

    Its own sampling params, not rl's: changing how RL explores must not silently
    change what the policy is measured with.
    """

    seed: int = 0  # one sampling seed for both models, so they are compared on the same draws
    prompts: int | None = Field(64, ge=1)  # the first N test prompts (sorted); None: all of them
    samples_per_prompt: int = Field(3, ge=1)  # sampled stories per prompt, beside one greedy decode
    max_new_tokens: int = Field(96, ge=1)
    temperature: float = Field(1.0, gt=0.0)
    top_k: int = Field(0, ge=0)  # 0: no cut
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    batch_size: int = Field(256, ge=1)  # rows decoded at once: speed and memory (the draws change, not their law)
    # Test stories whose perplexity is measured: a seeded sample of this many; None: all.
    reference_stories: int | None = Field(256, ge=1)


class ReportConfig(Section):
    """What the report shows and when it warns (docs/evaluate-and-report.md)."""

    samples: int = Field(5, ge=0)  # test prompts shown side by side (SFT | policy)
    # Warnings: a fall of distinct-2 past this share of SFT's, or a rise of the test
    # perplexity past this share of SFT's, is called out.
    distinct_2_drop: float = Field(0.05, ge=0.0)
    perplexity_rise: float = Field(0.10, ge=0.0)


class LaunchConfig(Section):
    """How the torch stages run (`ahf launch STAGE`, docs/scale.md).

    config: an accelerate config file (configs/accelerate/*.yaml) that sft, reward and rl
    run under with `accelerate launch`; None runs them in this process. The environment
    variable AHF_ACCELERATE_CONFIG, when set, overrides it.
    malloc_threshold: bytes for glibc's MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_,
    set for the stages unless the environment already sets them; None leaves glibc's own.
    """

    config: str | None = None
    malloc_threshold: int | None = Field(1 << 30, ge=0)


def load_alpha(path: Path) -> float:
    """The weight of the likelihood term: a top-level key, as users spell it (`-S alpha=20`)."""
    value = read_params(path).get("alpha", 50.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise StageError(f"{path}: alpha: must be a number >= 0 (got {value!r})")
    return float(value)


def stage_sections() -> dict[str, tuple[tuple[str, type[Section] | None], ...]]:
    """The params sections each torch stage always reads, in the order it reads them
    (None: the top-level alpha). The CLI checks them before importing the stage, so a
    typo costs a fraction of a second, not the seconds torch and transformers take to
    import; the first bad key gives the very line the stage would print."""
    return {
        "tokenizer": (("model", ModelConfig),),
        "sft": (("model", ModelConfig), ("sft", SftConfig)),
        "reward": (("data", DataConfig), ("model", ModelConfig), ("reward", RewardConfig)),
        "rl": (("data", DataConfig), ("model", ModelConfig), ("rl", RLConfig), ("alpha", None)),
        "evaluate": (("data", DataConfig), ("model", ModelConfig), ("evaluate", EvaluateConfig)),
        "report": (("report", ReportConfig), ("rl", RLConfig), ("alpha", None), ("reward", RewardConfig)),
    }


def check_stage_params(stage: str, path: Path) -> None:
    """Raise the StageError the stage would raise on its first bad param (none: nothing)."""
    for name, model in stage_sections().get(stage, ()):
        if model is None:
            load_alpha(path)
        else:
            load_section(path, name, model)
