"""How a (prompt, story) becomes token ids, for every model of the pipeline.

One format for SFT, the reward model and (later) RL, so that what the reward model
scores is exactly what the policy writes. The prompt is masked out of the LM loss:
the model learns to write stories, not prompts. The seed work found that padding
prompt+completion carelessly hurt; here padding is always masked out of the loss
and of attention, and truncation never lets a prompt crowd out the whole story.
"""

from dataclasses import dataclass

import torch

PROMPT_SEPARATOR = "\n\n"
IGNORE_INDEX = -100  # torch's cross-entropy skips these labels


def prompt_prefix(prompt: str) -> str:
    return prompt.strip() + PROMPT_SEPARATOR


@dataclass(frozen=True)
class EncodedStory:
    prompt_ids: list[int]
    story_ids: list[int]

    @property
    def input_ids(self) -> list[int]:
        return self.prompt_ids + self.story_ids

    @property
    def labels(self) -> list[int]:
        return [IGNORE_INDEX] * len(self.prompt_ids) + self.story_ids


def fit_lengths(
    prompt_ids: list[int], story_ids: list[int], max_prompt_tokens: int, max_tokens: int, eos_id: int | None
) -> EncodedStory:
    """Keep the prompt's head (its title) and as much story as fits; EOS only on a whole story,
    so the model never learns to stop where a long story was cut."""
    prompt_ids = prompt_ids[:max_prompt_tokens]
    room = max_tokens - len(prompt_ids)
    whole = story_ids + ([eos_id] if eos_id is not None else [])
    return EncodedStory(prompt_ids, whole if len(whole) <= room else story_ids[:room])


def encode_story(
    tokenizer, prompt: str, story: str, max_prompt_tokens: int, max_tokens: int, add_eos: bool
) -> EncodedStory:
    prompt_ids = tokenizer(prompt_prefix(prompt), add_special_tokens=False)["input_ids"]
    story_ids = tokenizer(story.strip(), add_special_tokens=False)["input_ids"]
    return fit_lengths(
        prompt_ids, story_ids, max_prompt_tokens, max_tokens, tokenizer.eos_token_id if add_eos else None
    )


def pad_right(sequences: list[list[int]], pad_value: int) -> torch.Tensor:
    width = max(len(sequence) for sequence in sequences)
    return torch.tensor([sequence + [pad_value] * (width - len(sequence)) for sequence in sequences], dtype=torch.long)


def lm_batch(examples: list[EncodedStory], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded batch; padding is masked from attention and from the loss."""
    inputs = [example.input_ids for example in examples]
    return {
        "input_ids": pad_right(inputs, pad_id),
        "attention_mask": pad_right([[1] * len(sequence) for sequence in inputs], 0),
        "labels": pad_right([example.labels for example in examples], IGNORE_INDEX),
    }


def packed_lm_batch(examples: list[EncodedStory], pad_id: int, row_tokens: int) -> dict[str, torch.Tensor]:
    """The stories packed end to end into rows of at most row_tokens, first-fit by
    decreasing length: a random batch of stories padded to its longest is about half
    padding, and padding costs a forward and a backward like any token. Each story's
    positions start at 0 and no attention_mask is given, so transformers masks attention
    to within each story (it reads the packing from the position ids); a story's first
    label is dropped, as a row of its own never predicts it, so the summed NLL is that
    of lm_batch. Each row's unused tail is padding, labelled IGNORE_INDEX."""
    order = sorted(range(len(examples)), key=lambda index: -len(examples[index].input_ids))
    rows: list[list[int]] = []
    room: list[int] = []
    for index in order:
        length = len(examples[index].input_ids)
        if length > row_tokens:
            raise ValueError(f"a story of {length} tokens does not fit rows of {row_tokens}")
        row = next((row for row, left in enumerate(room) if left >= length), None)
        if row is None:
            rows.append([])
            room.append(row_tokens)
            row = len(rows) - 1
        rows[row].append(index)
        room[row] -= length
    input_ids, position_ids, labels = [], [], []
    for row in rows:
        input_ids.append([token for index in row for token in examples[index].input_ids])
        position_ids.append([position for index in row for position in range(len(examples[index].input_ids))])
        labels.append([label for index in row for label in [IGNORE_INDEX, *list(examples[index].labels[1:])]])
    width = max(len(row) for row in input_ids)
    # Each padding token of a row's tail is a story of one at position 0: in range whatever
    # the row's width, and after every real token, so none of them ever sees it.
    position_ids = [row + [0] * (width - len(row)) for row in position_ids]
    return {
        "input_ids": pad_right(input_ids, pad_id),
        "position_ids": torch.tensor(position_ids, dtype=torch.long),
        "labels": pad_right(labels, IGNORE_INDEX),
    }


class LengthGroupedBatches(torch.utils.data.Sampler):
    """Batches of similar length, in random order, reshuffled every epoch.

    Stories vary from a dozen tokens to max_tokens; batching them at random pads most
    rows to the longest and wastes about half of every step. Sorting within large
    random chunks keeps batches random across epochs while padding little.
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int, chunk_batches: int = 50):
        self.lengths = lengths
        self.batch_size = batch_size
        self.seed = seed
        self.chunk = batch_size * chunk_batches
        self.epoch = 0

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        self.epoch += 1
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        batches = []
        for start in range(0, len(order), self.chunk):
            chunk = sorted(order[start : start + self.chunk], key=lambda index: self.lengths[index])
            batches += [chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        for position in torch.randperm(len(batches), generator=generator).tolist():
            yield batches[position]
