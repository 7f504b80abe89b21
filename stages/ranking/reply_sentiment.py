"""The sentiment of a reply's text, from -1 (negative) to +1 (positive).

rank.sentiment picks the scorer:
- `vader` (default): VADER (Hutto & Gilbert 2014), rules and a lexicon made for
  social-media text ("lol", "meh", "!!!", "not bad"), shipped in its wheel, so it runs
  offline and on any CPU; the score is its compound polarity.
- a local folder holding a transformers sequence-classification model and its
  tokenizer (e.g. a sentiment model fine-tuned on tweets), for users with a GPU and a
  better model. The score is P(positive) - P(negative), the labels read from the
  model's id2label: names that contain "pos" and "neg" (any case). A model whose labels
  are unnamed (LABEL_0, ...) follows the common conventions: two labels are
  (negative, positive), as SST-2's; three are (negative, neutral, positive).

Replies repeat ("lol", "Part 2 please!"), so each distinct text is scored once.
"""

from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from stages.common.errors import StageError
from stages.common.worker_pool import available_cpus, spawned_pool

VADER = "vader"
UNNAMED_LABELS = {2: ("negative", "positive"), 3: ("negative", "neutral", "positive")}
# Texts a worker scores per task; below this many distinct texts workers are not worth their start.
TEXTS_PER_TASK = 50_000
VADER_WORKERS = max(available_cpus(), 1)
MODEL_BATCH_SIZE = 64
MODEL_MAX_TOKENS = 128


@cache
def vader_analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def vader_words() -> frozenset[str]:
    """The words VADER's lexicon knows: the English a reply must hold (ranking/replies.py)."""
    return frozenset(vader_analyzer().lexicon)


def vader_scores(texts: list[str]) -> np.ndarray:
    analyzer = vader_analyzer()
    return np.array([analyzer.polarity_scores(text)["compound"] for text in texts], dtype=float)


def label_signs(id2label: dict[int, str]) -> np.ndarray:
    """+1 for the positive label, -1 for the negative, 0 for any other, by label id; a
    StageError when the labels say neither."""
    names = [str(id2label[i]).lower() for i in range(len(id2label))]
    if all(name.startswith("label_") for name in names) and len(names) in UNNAMED_LABELS:
        names = list(UNNAMED_LABELS[len(names)])
    signs = np.array([(1 if "pos" in name else -1 if "neg" in name else 0) for name in names], dtype=float)
    if (signs == 1).sum() != 1 or (signs == -1).sum() != 1:
        raise StageError(
            f"rank.sentiment: the model's labels {names} name no one positive and one negative label "
            "(id2label in its config.json)"
        )
    return signs


def model_scorer(folder: str) -> Callable[[list[str]], np.ndarray]:
    """A scorer over a local sequence-classification model: P(positive) - P(negative)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if not (Path(folder) / "config.json").is_file():
        raise StageError(f"rank.sentiment: {folder} is neither `vader` nor a folder holding a model's config.json")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForSequenceClassification.from_pretrained(folder).to(device).eval()
    except (OSError, ValueError) as error:
        raise StageError(
            f"rank.sentiment: {folder} cannot be loaded as a sequence-classification model: {error}"
        ) from error
    signs = torch.tensor(label_signs(model.config.id2label), device=device)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id

    @torch.no_grad()
    def score(texts: list[str]) -> np.ndarray:
        scores = []
        for start in range(0, len(texts), MODEL_BATCH_SIZE):
            batch = tokenizer(
                texts[start : start + MODEL_BATCH_SIZE],
                padding=True,
                truncation=True,
                max_length=MODEL_MAX_TOKENS,
                return_tensors="pt",
            ).to(device)
            probabilities = model(**batch).logits.float().softmax(-1)
            scores.append((probabilities * signs).sum(-1).cpu().numpy())
        return np.concatenate(scores) if scores else np.zeros(0)

    return score


def reply_sentiments(texts: pd.Series, sentiment: str) -> np.ndarray:
    """The sentiment of each text, by the scorer rank.sentiment names. VADER is pure
    Python (~25 us a reply): many distinct texts are shared among worker processes."""
    codes, distinct = pd.factorize(texts)
    distinct = distinct.tolist()
    if sentiment != VADER:
        scores = model_scorer(sentiment)(distinct)
    elif len(distinct) > TEXTS_PER_TASK:
        shares = [distinct[start : start + TEXTS_PER_TASK] for start in range(0, len(distinct), TEXTS_PER_TASK)]
        with spawned_pool(min(VADER_WORKERS, len(shares)), preloaded=(__name__,)) as pool:
            scores = np.concatenate(pool.map(vader_scores, shares))
    else:
        scores = vader_scores(distinct)
    return scores[codes] if len(codes) else np.zeros(0)
