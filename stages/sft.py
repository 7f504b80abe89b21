"""sft: behavior cloning, a causal LM learns prompt -> story on the chosen tiers.

The loss covers story tokens only. Validation perplexity is measured every
sft.eval_every steps on the val split (all tiers: a fixed yardstick whatever
sft.tiers says); the best checkpoint is kept and training stops early when it stops
improving. At every evaluation the model writes stories for a few fixed val prompts
into reports/sft_samples.jsonl, so a user can watch it learn.

Under `accelerate launch` (launch.config) each of N processes trains on batch_size / N
stories of every batch; only the main process evaluates and writes.
"""

import json
from functools import partial
from pathlib import Path

import pandas as pd
import torch
from accelerate.utils import set_seed
from dvclive import Live
from torch.utils.data import DataLoader
from transformers import AutoModelForCausalLM

from stages.common.atomic_io import atomic_output_dir, atomic_write_text, write_metrics
from stages.common.config import ModelConfig, SftConfig, load_section
from stages.common.datasets import load_stories, split_of
from stages.common.distributed import SilentLive, on_main_process, require_even_split
from stages.common.errors import StageError
from stages.common.layout import SFT_DIR, SFT_LIVE_DIR, SFT_SAMPLES_FILE, metrics_file
from stages.modeling.adapters import plain_model, trainable
from stages.modeling.base_model import load_base_lm, load_tokenizer
from stages.modeling.generation import generate_stories
from stages.modeling.lm_loss import dataset_perplexity, story_nll, unigram_perplexity
from stages.modeling.story_format import IGNORE_INDEX, LengthGroupedBatches, encode_story, lm_batch
from stages.modeling.training_loop import accelerator_for, fit


def eval_subset(stories: pd.DataFrame, limit: int, seed: int) -> pd.DataFrame:
    return stories if len(stories) <= limit else stories.sample(limit, random_state=seed).sort_index()


def lm_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    nll, count = story_nll(
        model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits, batch["labels"]
    )
    return nll / count.clamp(min=1)


def story_tokens(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """What lm_loss is a mean over: the story tokens predicted (as story_nll counts them)."""
    return (batch["labels"][:, 1:] != IGNORE_INDEX).sum()


def run(params: Path) -> str:
    model_config = load_section(params, "model", ModelConfig)
    config = load_section(params, "sft", SftConfig)
    set_seed(config.seed)
    tokenizer = load_tokenizer()
    stories = load_stories()
    train = split_of(stories, "train", "stories")
    train = train[train["tier"].isin(config.tiers)]
    if train.empty:
        raise StageError(f"the train split holds no stories of the tiers {config.tiers} (sft.tiers)")
    val = eval_subset(split_of(stories, "val", "stories"), config.max_eval_stories, config.seed)
    test = eval_subset(split_of(stories, "test", "stories"), config.max_eval_stories, config.seed)

    encode = partial(
        encode_story,
        tokenizer,
        max_prompt_tokens=model_config.max_prompt_tokens,
        max_tokens=model_config.max_tokens,
        add_eos=True,
    )
    examples = {
        name: [encode(p, s) for p, s in zip(frame["prompt"], frame["story"], strict=True)]
        for name, frame in {"train": train, "val": val, "test": test}.items()
    }
    collate = partial(lm_batch, pad_id=tokenizer.pad_token_id)
    train_batches = LengthGroupedBatches([len(e.input_ids) for e in examples["train"]], config.batch_size, config.seed)
    train_loader = DataLoader(examples["train"], batch_sampler=train_batches, collate_fn=collate)
    # Perplexity does not care about order: evaluate shortest first, so batches pad little.
    eval_loaders = {
        name: DataLoader(sorted(examples[name], key=lambda e: len(e.input_ids)), batch_size=64, collate_fn=collate)
        for name in ("val", "test")
    }
    sample_prompts = sorted(val["prompt"].unique())[: config.sample_prompts]
    samples: list[dict] = []

    def evaluate(model) -> dict[str, float]:
        if sample_prompts:
            stories_written = generate_stories(
                model,
                tokenizer,
                sample_prompts,
                max_prompt_tokens=model_config.max_prompt_tokens,
                max_tokens=model_config.max_tokens,
                max_new_tokens=config.sample_max_new_tokens,
                temperature=config.temperature,
                top_k=config.top_k,
                seed=config.seed,
            )
            samples.extend(
                {"step": live.step, "prompt": p, "story": s}
                for p, s in zip(sample_prompts, stories_written, strict=True)
            )
            atomic_write_text(SFT_SAMPLES_FILE, "".join(json.dumps(row) + "\n" for row in samples))
        return {"sft/val_perplexity": dataset_perplexity(model, eval_loaders["val"])}

    accelerator = accelerator_for(config)
    require_even_split(config.batch_size, accelerator.num_processes, "sft.batch_size")
    model = trainable(load_base_lm(model_config, tokenizer), model_config, task="causal_lm")
    main = accelerator.is_main_process
    with (
        on_main_process(main, lambda: Live(str(SFT_LIVE_DIR), save_dvc_exp=False, dvcyaml=False), SilentLive()) as live,
        on_main_process(main, lambda: atomic_output_dir(SFT_DIR)) as staging,
    ):
        result = fit(
            model=model,
            loader=train_loader,
            loss_of=lm_loss,
            evaluate=evaluate,
            monitor="sft/val_perplexity",
            higher_is_better=False,
            on_best=lambda best, step: plain_model(best).save_pretrained(staging),
            config=config,
            accelerator=accelerator,
            live=live,
            prefix="sft",
            items_of=story_tokens,
        )
        if not main:
            return ""
        tokenizer.save_pretrained(staging)
        best = AutoModelForCausalLM.from_pretrained(staging).to(accelerator.device).eval()
        test_perplexity = dataset_perplexity(best, eval_loaders["test"])

    train_story_tokens = [example.story_ids for example in examples["train"]]
    val_story_tokens = [example.story_ids for example in examples["val"]]
    metrics = result.metrics("sft") | {
        "sft/val_perplexity": result.best_value,
        "sft/test_perplexity": test_perplexity,
        "sft/unigram_val_perplexity": unigram_perplexity(train_story_tokens, val_story_tokens, len(tokenizer)),
        "sft/train_stories": len(train),
    }
    write_metrics(metrics_file("sft"), metrics)
    return (
        f"sft: val perplexity {result.best_value:.2f} (unigram {metrics['sft/unigram_val_perplexity']:.1f}), "
        f"test {test_perplexity:.2f}, best at step {result.best_step}/{result.steps}, "
        f"{result.tokens_per_s:.0f} tokens/s -> {SFT_DIR}/"
    )
