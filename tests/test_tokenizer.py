import pandas as pd
import pytest
from conftest import run_ahf
from transformers import AutoTokenizer

from stages.modeling.base_model import EOS_TOKEN, PAD_TOKEN
from stages.tokenizer import train_bpe_tokenizer

TEXTS = ["The dragon guarded the hoard.", "The knight slew the dragon at dawn."] * 20


def test_bpe_round_trips_any_text_and_has_distinct_eos_and_pad(tiny_tokenizer):
    for text in ("The astronaut drifted.", "Unseen wörds & émojis 🚀 still round-trip", "  spaces\n\nand lines "):
        assert tiny_tokenizer.decode(tiny_tokenizer(text)["input_ids"]) == text
    assert tiny_tokenizer.eos_token == EOS_TOKEN and tiny_tokenizer.pad_token == PAD_TOKEN
    assert tiny_tokenizer.eos_token_id != tiny_tokenizer.pad_token_id


def test_bpe_training_is_deterministic_and_learns_frequent_words():
    first, second = train_bpe_tokenizer(TEXTS, 300), train_bpe_tokenizer(TEXTS, 300)
    assert first.get_vocab() == second.get_vocab()
    assert len(first("The dragon")["input_ids"]) == 2  # "The", " dragon": whole words after training


@pytest.mark.slow
def test_the_stage_trains_on_the_train_split_and_saves_a_loadable_tokenizer(model_project):
    result = run_ahf(model_project, "tokenizer")
    assert result.returncode == 0, result.stderr
    tokenizer = AutoTokenizer.from_pretrained(model_project / "models/tokenizer")
    assert len(tokenizer) <= 400
    train = pd.read_parquet(model_project / "data/processed/stories.parquet").query("split == 'train'")
    story = train["story"].iloc[0]
    assert tokenizer.decode(tokenizer(story)["input_ids"]) == story


@pytest.mark.slow
def test_the_stage_without_ranked_data_is_one_clear_line(small_project):
    result = run_ahf(small_project, "tokenizer")
    assert result.returncode == 2
    assert (
        result.stderr.strip() == "ahf tokenizer: error: data/processed/stories.parquet not found: run `ahf rank` first"
    )
