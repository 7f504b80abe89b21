"""Causal-LM likelihood of story tokens: the SFT loss and the perplexity metric."""

import math
from functools import partial

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from stages.modeling.story_format import IGNORE_INDEX, EncodedStory, lm_batch


def story_nll(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed negative log-likelihood of the labelled tokens, and how many there were.

    Position t predicts token t+1; labels equal to IGNORE_INDEX (prompt, padding) count
    for nothing, so a batch's loss is independent of how much padding it carries.
    """
    predicted = logits[:, :-1, :].float()
    target = labels[:, 1:]
    nll = F.cross_entropy(
        predicted.reshape(-1, predicted.size(-1)), target.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum"
    )
    return nll, (target != IGNORE_INDEX).sum()


def story_logprob_sums(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Each row's summed log-probability of its labelled (story) tokens: log pi(story | prompt)."""
    predicted = logits[:, :-1, :].float()
    target = labels[:, 1:]
    mask = target != IGNORE_INDEX
    token_logprobs = torch.log_softmax(predicted, dim=-1).gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (token_logprobs * mask).sum(dim=1)


def perplexity(total_nll: float, n_tokens: int) -> float:
    return math.exp(total_nll / n_tokens) if n_tokens else float("nan")


def unigram_perplexity(train_tokens: list[list[int]], eval_tokens: list[list[int]], vocab_size: int) -> float:
    """The baseline SFT must beat: each token's add-one-smoothed frequency in the train stories."""
    counts = torch.zeros(vocab_size, dtype=torch.float64)
    for tokens in train_tokens:
        counts += torch.bincount(torch.tensor(tokens, dtype=torch.long), minlength=vocab_size).double()
    log_prob = torch.log((counts + 1.0) / (counts.sum() + vocab_size))
    flat = torch.tensor([token for tokens in eval_tokens for token in tokens], dtype=torch.long)
    return perplexity(float(-log_prob[flat].sum()), int(flat.numel()))


def dataset_perplexity(model, loader) -> float:
    """Perplexity of the story tokens of every batch, weighted by token, not by batch."""
    device = next(model.parameters()).device
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in loader:
            logits = model(
                input_ids=batch["input_ids"].to(device),
                attention_mask=batch["attention_mask"].to(device),
                use_cache=False,
            ).logits
            nll, n = story_nll(logits, batch["labels"].to(device))
            total, count = total + float(nll), count + int(n)
    return perplexity(total, count)


def perplexity_loader(stories: list[EncodedStory], pad_id: int, batch_size: int = 64) -> DataLoader:
    """Held-out stories in batches of similar length (shortest first), so little is padding."""
    ordered = sorted(stories, key=lambda story: len(story.input_ids))
    return DataLoader(ordered, batch_size=batch_size, collate_fn=partial(lm_batch, pad_id=pad_id))
