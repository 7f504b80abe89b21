import json
from functools import partial

import pandas as pd
import pytest
import torch
from conftest import QUICK_SFT, RecordingLive, model_params, run_ahf
from torch.utils.data import DataLoader
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel

from stages.common.config import ModelConfig, OptimConfig
from stages.modeling.base_model import load_base_lm
from stages.modeling.story_format import encode_story, lm_batch
from stages.modeling.training_loop import accelerator_for, fit
from stages.sft import lm_loss


def tsv(path):
    return pd.read_csv(path, sep="\t")


@pytest.mark.slow
def test_sft_saves_a_loadable_model_that_beats_a_uniform_guess(trained_project):
    model = AutoModelForCausalLM.from_pretrained(trained_project / "models/sft")
    tokenizer = AutoTokenizer.from_pretrained(trained_project / "models/sft")
    assert (trained_project / "models/sft/model.safetensors").exists()
    metrics = json.loads((trained_project / "reports/sft.json").read_text())
    assert metrics["sft/val_perplexity"] < len(tokenizer)  # a uniform guess scores the vocabulary size
    assert metrics["sft/test_perplexity"] > 1.0 and metrics["sft/tokens_per_s"] > 0
    assert metrics["sft/steps"] == QUICK_SFT["max_steps"]
    assert model.config.vocab_size == len(tokenizer)


@pytest.mark.slow
def test_sft_trains_on_the_chosen_tiers_of_the_train_split(trained_project):
    stories = pd.read_parquet(trained_project / "data/processed/stories.parquet")
    expected = ((stories["split"] == "train") & stories["tier"].isin(["good", "ok"])).sum()
    assert json.loads((trained_project / "reports/sft.json").read_text())["sft/train_stories"] == expected


@pytest.mark.slow
def test_sft_curves_and_samples_are_written_at_every_evaluation(trained_project):
    curves = trained_project / "reports/sft_live/plots/metrics/sft"
    assert len(tsv(curves / "train_loss.tsv")) == QUICK_SFT["max_steps"]
    perplexity = tsv(curves / "val_perplexity.tsv")
    assert perplexity["step"].tolist() == [10, 20, 30]
    assert perplexity["val_perplexity"].iloc[-1] < perplexity["val_perplexity"].iloc[0]
    samples = [json.loads(line) for line in (trained_project / "reports/sft_samples.jsonl").read_text().splitlines()]
    assert [row["step"] for row in samples] == [10, 10, 20, 20, 30, 30]
    val_prompts = set(
        pd.read_parquet(trained_project / "data/processed/stories.parquet").query("split == 'val'")["prompt"]
    )
    assert {row["prompt"] for row in samples} <= val_prompts
    assert all(isinstance(row["story"], str) for row in samples)


@pytest.mark.slow
def test_a_diverging_sft_fails_cleanly_and_keeps_the_previous_model(sft_project):
    before = (sft_project / "models/sft/model.safetensors").read_bytes()
    model_params(sft_project, sft={"lr": 1e10, "warmup_steps": 0})  # weights blow up within steps
    result = run_ahf(sft_project, "sft")
    assert result.returncode == 2
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("ahf sft: error: sft: the loss became nan at step ")
    assert "Traceback" not in result.stderr
    assert (sft_project / "models/sft/model.safetensors").read_bytes() == before


@pytest.mark.slow
def test_sft_and_reward_run_on_a_pretrained_base_from_a_local_folder(model_project, tiny_tokenizer):
    base = model_project / "base"
    GPT2LMHeadModel(
        GPT2Config(vocab_size=len(tiny_tokenizer), n_positions=96, n_embd=24, n_layer=1, n_head=2)
    ).save_pretrained(base)
    tiny_tokenizer.save_pretrained(base)
    model_params(model_project, model={"base": str(base)}, reward={"init": "base"})
    for stage in ("tokenizer", "sft", "reward"):
        result = run_ahf(model_project, stage)
        assert result.returncode == 0, result.stderr
    assert AutoTokenizer.from_pretrained(model_project / "models/tokenizer").get_vocab() == tiny_tokenizer.get_vocab()
    sft = AutoModelForCausalLM.from_pretrained(model_project / "models/sft")
    assert sft.config.n_embd == 24
    assert not torch.equal(sft.transformer.wte.weight, GPT2LMHeadModel.from_pretrained(base).transformer.wte.weight)


@pytest.mark.slow
def test_a_bad_sft_param_is_a_one_line_error(model_project):
    model_params(model_project, sft={"tiers": ["great"]})
    result = run_ahf(model_project, "sft")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "ahf sft: error: params.yaml: sft.tiers.0: Input should be 'good', 'ok' or 'bad' (got 'great')"
    )


def test_a_few_steps_lower_the_story_loss_of_a_tiny_gpt2_on_a_fixed_batch(tiny_tokenizer):
    torch.manual_seed(0)
    examples = [
        encode_story(tiny_tokenizer, f"[WP] Prompt {i}.", story, 16, 64, add_eos=True)
        for i, story in enumerate(
            [
                "The dragon slept.",
                "A knight rode to the castle at dawn.",
                "The ship sailed.",
                "She whispered the spell.",
            ]
        )
    ]
    batch = lm_batch(examples, tiny_tokenizer.pad_token_id)
    model = load_base_lm(
        ModelConfig(n_layer=1, n_head=2, n_embd=32, max_tokens=64, max_prompt_tokens=16), tiny_tokenizer
    )
    before = lm_loss(model.eval(), batch).item()
    config = OptimConfig(lr=1e-2, max_steps=30, eval_every=30, warmup_steps=0)
    fit(
        model=model,
        loader=DataLoader(examples, batch_size=4, collate_fn=partial(lm_batch, pad_id=tiny_tokenizer.pad_token_id)),
        loss_of=lm_loss,
        evaluate=lambda m: {"loss": lm_loss(m, batch).item()},
        monitor="loss",
        higher_is_better=False,
        on_best=lambda m, step: None,
        config=config,
        accelerator=accelerator_for(config),
        live=RecordingLive(),
        prefix="sft",
    )
    assert lm_loss(model.eval(), batch).item() < 0.5 * before
