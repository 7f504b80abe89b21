"""Collating reward-model training examples; every batch holds input_ids and attention_mask
for all its sequences, plus what its loss needs."""

import torch

from stages.modeling.story_format import EncodedStory, lm_batch


def sequences_batch(sequences: list[EncodedStory], pad_id: int) -> dict[str, torch.Tensor]:
    batch = lm_batch(sequences, pad_id)
    del batch["labels"]
    return batch


def pairwise_batch(items: list[tuple[EncodedStory, EncodedStory, float]], pad_id: int) -> dict[str, torch.Tensor]:
    """Chosen stories first, then their rejected partners in the same order."""
    batch = sequences_batch([chosen for chosen, _, _ in items] + [rejected for _, rejected, _ in items], pad_id)
    batch["margin"] = torch.tensor([margin for _, _, margin in items], dtype=torch.float32)
    return batch


def listwise_batch(lists: list[list[EncodedStory]], pad_id: int) -> dict[str, torch.Tensor]:
    """All stories of each list, best first; list_mask[g, i] marks where story i of list g sits."""
    longest = max(len(stories) for stories in lists)
    batch = sequences_batch([story for stories in lists for story in stories], pad_id)
    batch["list_mask"] = torch.tensor([[i < len(stories) for i in range(longest)] for stories in lists])
    return batch


def tier_batch(items: list[tuple[EncodedStory, int]], pad_id: int) -> dict[str, torch.Tensor]:
    batch = sequences_batch([story for story, _ in items], pad_id)
    batch["tier"] = torch.tensor([tier for _, tier in items], dtype=torch.long)
    return batch
