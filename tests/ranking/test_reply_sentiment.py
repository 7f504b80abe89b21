import numpy as np
import pandas as pd
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import GPT2Config, GPT2ForSequenceClassification, PreTrainedTokenizerFast

from stages.common.errors import StageError
from stages.ranking.reply_sentiment import VADER, label_signs, model_scorer, reply_sentiments, vader_scores


def test_vader_reads_readers_words_and_is_bounded():
    praise, pan, flat = vader_scores(["Wow, this is amazing, I loved it!", "meh, boring and awful", "the door"])
    assert 0.5 < praise <= 1.0 and -1.0 <= pan < -0.3 and flat == 0.0


def test_each_distinct_text_is_scored_once_and_mapped_back():
    texts = pd.Series(["great story", "awful", "great story"])
    scores = reply_sentiments(texts, VADER)
    assert scores[0] == scores[2] == vader_scores(["great story"])[0] and scores[1] < 0
    assert reply_sentiments(pd.Series([], dtype=object), VADER).shape == (0,)


def test_label_signs_read_names_or_the_unnamed_conventions():
    assert label_signs({0: "NEGATIVE", 1: "POSITIVE"}).tolist() == [-1, 1]
    assert label_signs({0: "positive", 1: "neutral", 2: "negative"}).tolist() == [1, 0, -1]
    assert label_signs({0: "LABEL_0", 1: "LABEL_1"}).tolist() == [-1, 1]
    assert label_signs({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}).tolist() == [-1, 0, 1]
    with pytest.raises(StageError, match=r"rank\.sentiment: .*no one positive and one negative"):
        label_signs({0: "1 star", 1: "5 stars"})


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory):
    """A randomly initialised sequence classifier and its tokenizer, saved as a user's folder would be."""
    folder = tmp_path_factory.mktemp("sentiment-model")
    words = ["[PAD]", "[UNK]", "great", "story", "awful", "meh", "lol", "the", "ending"]
    backend = Tokenizer(models.WordLevel({word: i for i, word in enumerate(words)}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="[PAD]", unk_token="[UNK]")
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(words),
        n_positions=32,
        n_embd=16,
        n_layer=1,
        n_head=2,
        num_labels=3,
        pad_token_id=0,
        id2label={0: "positive", 1: "neutral", 2: "negative"},
        label2id={"positive": 0, "neutral": 1, "negative": 2},
    )
    model = GPT2ForSequenceClassification(config).eval()
    model.save_pretrained(folder)
    return folder, tokenizer, model


def test_a_local_model_scores_p_positive_minus_p_negative(tiny_classifier):
    folder, tokenizer, model = tiny_classifier
    texts = ["great story", "awful ending lol", "meh"]
    scores = model_scorer(str(folder))(texts)
    with torch.no_grad():
        expected = [
            (lambda p: float(p[0] - p[2]))(model(**tokenizer(text, return_tensors="pt")).logits[0].softmax(-1))
            for text in texts
        ]
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    assert reply_sentiments(pd.Series(texts + texts[:1]), str(folder)) == pytest.approx([*expected, expected[0]])


def test_a_folder_that_holds_no_model_is_a_clear_error(tmp_path):
    with pytest.raises(StageError, match=r"rank\.sentiment: .* neither `vader` nor a folder"):
        model_scorer(str(tmp_path))
