"""tokenizer: a byte-level BPE trained on the train split (tiny base), or the base's own.

Its own stage so that SFT params can change without retraining it. For a pretrained
base it saves that base's tokenizer (with a pad token), so later stages always read
models/tokenizer/ whatever the base.
"""

from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from stages.common.atomic_io import atomic_output_dir, write_metrics
from stages.common.config import ModelConfig, load_section
from stages.common.datasets import load_stories, split_of
from stages.common.layout import TOKENIZER_DIR, metrics_file
from stages.modeling.base_model import EOS_TOKEN, PAD_TOKEN, load_pretrained, with_pad_token
from stages.modeling.story_format import prompt_prefix


def train_bpe_tokenizer(texts: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """GPT-2's scheme (byte-level BPE, so no text is out of vocabulary) on our own corpus."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[EOS_TOKEN, PAD_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token=EOS_TOKEN, eos_token=EOS_TOKEN, pad_token=PAD_TOKEN)


def run(params: Path) -> str:
    config = load_section(params, "model", ModelConfig)
    train = split_of(load_stories(), "train", "stories")
    if config.base == "tiny":
        texts = [prompt_prefix(prompt) for prompt in train["prompt"].unique()] + train["story"].tolist()
        tokenizer = train_bpe_tokenizer(texts, config.vocab_size)
    else:
        tokenizer = with_pad_token(load_pretrained(AutoTokenizer, config.base, "the base tokenizer"))

    story_tokens = np.array([len(ids) for ids in tokenizer(train["story"].tolist())["input_ids"]])
    with atomic_output_dir(TOKENIZER_DIR) as staging:
        tokenizer.save_pretrained(staging)
    write_metrics(
        metrics_file("tokenizer"),
        {
            "tokenizer/vocab_size": len(tokenizer),
            "tokenizer/story_tokens_mean": float(story_tokens.mean()),
            "tokenizer/story_tokens_p95": float(np.percentile(story_tokens, 95)),
        },
    )
    per_story = f"{story_tokens.mean():.0f} per train story"
    return f"tokenizer ({config.base}): {len(tokenizer)} tokens, {per_story} -> {TOKENIZER_DIR}/"
