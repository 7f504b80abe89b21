"""Sampling stories from a causal LM for a batch of prompts (KV-cached, left-padded)."""

import torch

from stages.modeling.story_format import prompt_prefix


def new_token_budget(max_new_tokens: int, max_tokens: int, prompt_width: int) -> int:
    """Tokens a row may add: never past max_tokens, the positions the model was built with."""
    return max(1, min(max_new_tokens, max_tokens - prompt_width))


def generate_stories(
    model,
    tokenizer,
    prompts: list[str],
    *,
    max_prompt_tokens: int,
    max_tokens: int,
    max_new_tokens: int,
    temperature: float,
    top_k: int,
    seed: int,
) -> list[str]:
    """One sampled story per prompt. Prompts are left-padded so every row's next token
    sits at the same position, and generation never runs past the model's max_tokens."""
    device = next(model.parameters()).device
    encoded = [tokenizer(prompt_prefix(p), add_special_tokens=False)["input_ids"][:max_prompt_tokens] for p in prompts]
    width = max(len(ids) for ids in encoded)
    input_ids = torch.tensor([[tokenizer.pad_token_id] * (width - len(ids)) + ids for ids in encoded], device=device)
    attention_mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in encoded], device=device)
    # A private RNG stream: sampling must not shift the training loop's shuffling.
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        output = model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            do_sample=True,
            temperature=temperature,
            top_k=top_k,
            max_new_tokens=new_token_budget(max_new_tokens, max_tokens, width),
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    return [text.strip() for text in tokenizer.batch_decode(output[:, width:], skip_special_tokens=True)]
