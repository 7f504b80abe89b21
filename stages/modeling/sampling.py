"""Batched sampling of story tokens with a KV cache, and the log-probabilities of any
tokens a model is shown: the rollout half of RL and of evaluation.

Why not `model.generate`: an RL step samples a few dozen short stories from a small
model, where generate's per-token bookkeeping (logits processors, stopping criteria,
cache classes) costs more than the model itself on a CPU. This loop does only what a
rollout needs: left-padded prompts, one forward per new token over the cache, and
temperature / top-k / top-p sampling from a private generator, so sampling never
shifts the training loop's random stream. For GPT-2 models the forward per token is
stages/modeling/gpt2_decoding.py's, which skips transformers' per-call bookkeeping too.
"""

from dataclasses import dataclass

import torch

from stages.modeling.gpt2_decoding import lean_gpt2_decoder
from stages.modeling.kv_cache import preallocated_cache
from stages.modeling.story_format import prompt_prefix


@dataclass(frozen=True)
class SamplingConfig:
    max_new_tokens: int
    temperature: float = 1.0
    top_k: int = 0  # 0: no top-k cut
    top_p: float = 1.0  # 1.0: no nucleus cut
    greedy: bool = False


@dataclass(frozen=True)
class Rollout:
    """Prompts and the stories sampled after them, one row per sample.

    `sequences` is [prompt (left-padded) | story (right-padded)]; `story_mask` marks
    the story tokens the model chose (through EOS, which it chose too); the first
    `prompt_width` columns are the prompt.
    """

    sequences: torch.Tensor  # [rows, prompt_width + new] token ids
    attention_mask: torch.Tensor  # [rows, prompt_width + new] 1 on real tokens
    story_mask: torch.Tensor  # [rows, new] 1 on sampled story tokens
    prompt_width: int

    @property
    def story_ids(self) -> torch.Tensor:
        return self.sequences[:, self.prompt_width :]


def encode_prompts(tokenizer, prompts: list[str], max_prompt_tokens: int) -> list[list[int]]:
    return [tokenizer(prompt_prefix(p), add_special_tokens=False)["input_ids"][:max_prompt_tokens] for p in prompts]


def left_padded(prompt_ids: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(ids) for ids in prompt_ids)
    ids = torch.tensor([[pad_id] * (width - len(p)) + p for p in prompt_ids], dtype=torch.long)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompt_ids], dtype=torch.long)
    return ids, mask


def positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position ids that start at 0 on each row's first real token, whatever its left padding."""
    return (attention_mask.cumsum(dim=1) - 1).clamp(min=0)


def filter_logits(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Logits outside the top k, or outside the smallest set holding top_p of the mass, become -inf."""
    if top_k and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        # Drop a token when the mass before it already reaches top_p: the top token always stays.
        drop_sorted = (cumulative - sorted_logits.softmax(dim=-1)) >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def inverse_cdf_sample(probabilities: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One draw per row of [rows, vocab] probabilities: the first token whose cumulative
    mass passes a uniform draw. Exactly the categorical distribution, from one uniform
    per row, where torch.multinomial on a CPU costs ~25x more (it draws per category).
    searchsorted's right side never lands on a zero-probability (filtered) token."""
    cumulative = probabilities.cumsum(dim=-1)
    uniform = (
        torch.rand((probabilities.size(0), 1), generator=generator, device=probabilities.device, dtype=cumulative.dtype)
        * cumulative[:, -1:]
    )
    chosen = torch.searchsorted(cumulative, uniform, right=True).squeeze(-1)
    return chosen.clamp(max=probabilities.size(-1) - 1)


def next_tokens(logits: torch.Tensor, config: SamplingConfig, generator: torch.Generator | None) -> torch.Tensor:
    if config.greedy:
        return logits.argmax(dim=-1)
    probabilities = filter_logits(logits.float() / config.temperature, config.top_k, config.top_p).softmax(dim=-1)
    return inverse_cdf_sample(probabilities, generator)


# Tokens between two reads of "has every row ended?" on a GPU: a read waits for the
# device to catch up; up to this many - 1 steps are wasted after the last row ends.
FINISHED_CHECK_EVERY = 8


def decoder_for(model, rows: int, capacity: int, lean: bool = True):
    """next_logits(input_ids, key_mask, position_ids) over a cache of `capacity` positions:
    the lean GPT-2 decoder where it serves the model (and `lean`), else transformers' forward."""
    decoder = lean_gpt2_decoder(model, rows, capacity) if lean else None
    if decoder is not None:
        return decoder.next_logits
    cache = preallocated_cache(model.config.get_text_config().num_hidden_layers, capacity)

    def next_logits(input_ids, key_mask, position_ids):
        output = model(
            input_ids=input_ids,
            attention_mask=key_mask,
            position_ids=position_ids,
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        return output.logits[:, -1, :]

    return next_logits


@torch.no_grad()
def sample_rollout(
    model,
    prompt_ids: list[list[int]],
    config: SamplingConfig,
    *,
    eos_id: int,
    pad_id: int,
    max_tokens: int,
    generator: torch.Generator | None = None,
    lean_decoding: bool = True,
    check_every: int | None = None,
) -> Rollout:
    """One story per row of prompt_ids (repeat a prompt to sample it several times).

    A row stops at EOS or after max_new_tokens, never past max_tokens in all (the
    positions the model was built with); the batch stops when every row has. Whether
    every row has is read every `check_every` tokens (default: each token on a CPU, every
    FINISHED_CHECK_EVERY on a GPU, where each read waits for the device); the columns no
    row used are cut, so the stories are the same either way.
    """
    device = next(model.parameters()).device
    check_every = check_every or (1 if device.type == "cpu" else FINISHED_CHECK_EVERY)
    input_ids, prompt_mask = left_padded(prompt_ids, pad_id)
    input_ids, prompt_mask = input_ids.to(device), prompt_mask.to(device)
    rows, width = input_ids.shape
    budget = max(1, min(config.max_new_tokens, max_tokens - width))
    chosen = torch.full((rows, budget), pad_id, dtype=torch.long, device=device)
    # [prompt | story] mask, filled a column per token; the model sees the filled part.
    attention_mask = torch.cat([prompt_mask, torch.zeros((rows, budget), dtype=torch.long, device=device)], dim=1)
    story_mask = attention_mask[:, width:]
    finished = torch.zeros(rows, dtype=torch.bool, device=device)
    next_logits = decoder_for(model, rows, width + budget, lean_decoding)
    step_input, step_positions = input_ids, positions(prompt_mask)
    for index in range(budget):
        token = next_tokens(
            next_logits(step_input, attention_mask[:, : width + index], step_positions), config, generator
        )
        token = torch.where(finished, torch.full_like(token, pad_id), token)
        chosen[:, index] = token
        story_mask[:, index] = (~finished).long()
        finished = finished | (token == eos_id)
        if (index + 1) % check_every == 0 and bool(finished.all()):
            budget = index + 1
            break
        step_input = token.unsqueeze(1)
        step_positions = step_positions[:, -1:] + 1
    if check_every > 1:  # the last column a row still wrote, read once
        budget = int(story_mask[:, :budget].any(dim=0).nonzero().max()) + 1
    sequences = torch.cat([input_ids, chosen[:, :budget]], dim=1)
    attention_mask = attention_mask[:, : width + budget]
    return Rollout(sequences, attention_mask, attention_mask[:, width:], width)


def decode_stories(tokenizer, rollout: Rollout) -> list[str]:
    stories = rollout.story_ids.masked_fill(rollout.story_mask == 0, tokenizer.pad_token_id)
    return [text.strip() for text in tokenizer.batch_decode(stories, skip_special_tokens=True)]


@dataclass(frozen=True)
class TokenScores:
    """What a forward pass over a rollout says about its story tokens."""

    logprobs: torch.Tensor  # [rows, new] log pi(token) of each story token
    entropy: torch.Tensor | None  # [rows, new] entropy of the distribution it was drawn from, when asked
    hidden: torch.Tensor | None  # [rows, new, width] last hidden state before each token (for a critic)


def story_token_scores(
    model, rollout: Rollout, with_hidden: bool = False, temperature: float = 1.0, with_entropy: bool = False
) -> TokenScores:
    """Log-probabilities of the story tokens under `model` (with grad if enabled).

    Position t predicts token t+1, so the logits that chose story token j sit at column
    prompt_width + j - 1: only those columns go through the LM head (logits_to_keep),
    which spares the prompt's share of the largest tensor of the step. Temperature
    divides the logits as sampling did, so the policy gradient is taken on the
    distribution the tokens were drawn from.
    """
    new = rollout.story_ids.size(1)
    output = model(
        input_ids=rollout.sequences,
        attention_mask=rollout.attention_mask,
        position_ids=positions(rollout.attention_mask),
        output_hidden_states=with_hidden,
        logits_to_keep=new + 1,
        use_cache=False,
    )
    logits = output.logits[:, :-1, :].float()
    if temperature != 1.0:  # a division is a pass over the step's largest tensor, each way
        logits = logits / temperature
    # log_softmax is one fused kernel forward and one backward, and its output is all that
    # backward keeps (the logits are freed): half the passes over [rows, new, vocab] of
    # logsumexp-and-gather, which ran the same maths in pieces.
    log_softmax = torch.log_softmax(logits, dim=-1)
    mask = rollout.story_mask.to(log_softmax.dtype)
    logprobs = log_softmax.gather(-1, rollout.story_ids.unsqueeze(-1)).squeeze(-1) * mask
    entropy = None
    if with_entropy:
        with torch.no_grad():  # a diagnostic, never differentiated
            entropy = -(log_softmax.exp() * log_softmax).sum(dim=-1) * mask
    hidden = output.hidden_states[-1][:, rollout.prompt_width - 1 : -1, :] if with_hidden else None
    return TokenScores(logprobs, entropy, hidden)
