import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from stages.modeling.lm_loss import story_nll
from stages.modeling.story_format import (
    IGNORE_INDEX,
    EncodedStory,
    LengthGroupedBatches,
    encode_story,
    fit_lengths,
    lm_batch,
    packed_lm_batch,
    prompt_prefix,
)

EOS = 0


def test_a_whole_story_ends_with_eos_and_only_its_tokens_are_labelled():
    encoded = fit_lengths([10, 11], [20, 21, 22], max_prompt_tokens=4, max_tokens=10, eos_id=EOS)
    assert encoded.input_ids == [10, 11, 20, 21, 22, EOS]
    assert encoded.labels == [IGNORE_INDEX, IGNORE_INDEX, 20, 21, 22, EOS]


def test_a_cut_story_gets_no_eos_so_the_model_never_learns_to_stop_there():
    encoded = fit_lengths([10, 11], [20, 21, 22, 23, 24], max_prompt_tokens=4, max_tokens=5, eos_id=EOS)
    assert encoded.input_ids == [10, 11, 20, 21, 22]


def test_a_long_prompt_keeps_its_head_and_leaves_room_for_the_story():
    encoded = fit_lengths(list(range(100, 110)), [20, 21], max_prompt_tokens=3, max_tokens=6, eos_id=None)
    assert encoded.prompt_ids == [100, 101, 102]
    assert encoded.story_ids == [20, 21]


def test_lm_batch_masks_padding_from_attention_and_loss():
    batch = lm_batch([EncodedStory([5], [6, 7]), EncodedStory([5, 5], [8])], pad_id=1)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [5, 5, 8]]
    short = lm_batch([EncodedStory([5], [6, 7, 9]), EncodedStory([5], [8])], pad_id=1)
    assert short["input_ids"].tolist() == [[5, 6, 7, 9], [5, 8, 1, 1]]
    assert short["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    assert short["labels"].tolist() == [[IGNORE_INDEX, 6, 7, 9], [IGNORE_INDEX, 8, IGNORE_INDEX, IGNORE_INDEX]]


def test_encode_story_splits_prompt_and_story_tokens(tiny_tokenizer):
    encoded = encode_story(tiny_tokenizer, "[WP] The dragon wakes.", "The knight fled.", 24, 96, add_eos=True)
    assert tiny_tokenizer.decode(encoded.prompt_ids) == prompt_prefix("[WP] The dragon wakes.")
    assert tiny_tokenizer.decode(encoded.story_ids[:-1]) == "The knight fled."
    assert encoded.story_ids[-1] == tiny_tokenizer.eos_token_id
    assert EncodedStory(encoded.prompt_ids, encoded.story_ids[:-1]) == encode_story(
        tiny_tokenizer, "[WP] The dragon wakes.", "The knight fled.", 24, 96, add_eos=False
    )


def test_length_grouped_batches_cover_every_item_once_per_epoch_and_reshuffle():
    lengths = [int(n) for n in torch.randint(1, 200, (103,), generator=torch.Generator().manual_seed(0))]
    sampler = LengthGroupedBatches(lengths, batch_size=8, seed=0, chunk_batches=4)
    first, second = list(sampler), list(sampler)
    for epoch in (first, second):
        assert sorted(index for batch in epoch for index in batch) == list(range(103))
        assert len(epoch) == len(sampler) == 13
    assert first != second


def test_length_grouped_batches_pad_less_than_random_batches():
    lengths = [int(n) for n in torch.randint(1, 200, (400,), generator=torch.Generator().manual_seed(1))]
    grouped = list(LengthGroupedBatches(lengths, batch_size=16, seed=0))
    random_order = torch.randperm(400, generator=torch.Generator().manual_seed(2)).tolist()
    random_batches = [random_order[i : i + 16] for i in range(0, 400, 16)]

    def padding(batches):
        return sum(max(lengths[i] for i in batch) * len(batch) - sum(lengths[i] for i in batch) for batch in batches)

    assert padding(grouped) < 0.5 * padding(random_batches)


def random_stories(count, seed=0, longest=30):
    generator = torch.Generator().manual_seed(seed)
    stories = []
    for _ in range(count):
        prompt, story = (int(n) for n in torch.randint(1, longest // 2, (2,), generator=generator))
        stories.append(
            EncodedStory(
                torch.randint(2, 50, (prompt,), generator=generator).tolist(),
                torch.randint(2, 50, (story,), generator=generator).tolist(),
            )
        )
    return stories


def test_packed_rows_hold_every_story_token_once_and_fewer_pads():
    stories = random_stories(16)
    packed = packed_lm_batch(stories, pad_id=1, row_tokens=32)
    assert packed["input_ids"].size(1) <= 32
    real = sum(len(story.input_ids) for story in stories)
    padded = lm_batch(stories, pad_id=1)["input_ids"].numel()
    assert real <= packed["input_ids"].numel() < padded
    # Cut at each position 0: the segments are the stories, and single padding tokens.
    segments = []
    for ids, row_positions in zip(packed["input_ids"].tolist(), packed["position_ids"].tolist(), strict=True):
        for token, position in zip(ids, row_positions, strict=True):
            segments.append([token]) if position == 0 else segments[-1].append(token)
    assert sorted(segment for segment in segments if segment != [1]) == sorted(story.input_ids for story in stories)
    assert sorted(t for row in packed["labels"].tolist() for t in row if t != IGNORE_INDEX) == sorted(
        t for story in stories for t in story.labels[1:] if t != IGNORE_INDEX
    )
    with pytest.raises(ValueError, match="does not fit"):
        packed_lm_batch(stories, pad_id=1, row_tokens=8)


def test_packed_nll_equals_the_padded_batchs():
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=50, n_positions=32, n_embd=16, n_layer=2, n_head=2)).eval()
    stories = random_stories(12, seed=1)
    padded, packed = lm_batch(stories, pad_id=1), packed_lm_batch(stories, pad_id=1, row_tokens=64)
    with torch.no_grad():
        padded_nll = story_nll(
            model(input_ids=padded["input_ids"], attention_mask=padded["attention_mask"]).logits, padded["labels"]
        )
        # No cache: transformers reads packing from the position ids only without one.
        packed_nll = story_nll(
            model(input_ids=packed["input_ids"], position_ids=packed["position_ids"], use_cache=False).logits,
            packed["labels"],
        )
    assert packed_nll[1] == padded_nll[1]
    assert packed_nll[0].item() == pytest.approx(padded_nll[0].item(), rel=1e-5)
