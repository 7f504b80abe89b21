"""Where models come from: the tiny GPT-2 built from scratch, or a pretrained base.

`model.base: tiny` builds a GPT-2 from the params with the tokenizer the tokenizer
stage trained; any other value is a transformers model id or a local folder, loaded
with from_pretrained, so gpt2 ... gpt2-xl or any causal LM works the same way.
"""

from pathlib import Path

from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedTokenizerBase,
)

from stages.common.config import ModelConfig
from stages.common.errors import StageError
from stages.common.layout import TOKENIZER_DIR

EOS_TOKEN = "<|endoftext|>"
PAD_TOKEN = "<|pad|>"


def load_pretrained(loader, name_or_path: str | Path, what: str, **kwargs):
    """from_pretrained with a one-line error: the hub may be unreachable, the folder missing."""
    try:
        return loader.from_pretrained(str(name_or_path), **kwargs)
    except (OSError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise StageError(
            f"cannot load {what} from {name_or_path!r}: {first_line} "
            "(a model id must already be in the Hugging Face cache, or give a local folder)"
        ) from error


# GPT-2's "gelu_new" is the tanh approximation of GELU written out in Python ops;
# "gelu_pytorch_tanh" is the same formula as one fused kernel (outputs agree to ~1e-6).
# On a CPU the unfused one costs about a quarter of a small model's forward pass.
FUSED_ACTIVATIONS = {"gelu_new": "gelu_pytorch_tanh"}


def load_fused(loader, name_or_path: str | Path, what: str, **kwargs):
    """load_pretrained with the model's activation swapped for its fused equal, for the
    stages that run a trained model many times (rl, evaluate)."""
    config = load_pretrained(AutoConfig, name_or_path, what)
    activation = getattr(config, "activation_function", None)
    if activation in FUSED_ACTIVATIONS:
        config.activation_function = FUSED_ACTIVATIONS[activation]
    return load_pretrained(loader, name_or_path, what, config=config, **kwargs)


def with_pad_token(tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    """GPT-2's tokenizer has no pad token; padding is always masked, so EOS can stand in."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_tokenizer(path: Path = TOKENIZER_DIR) -> PreTrainedTokenizerBase:
    if not Path(path).exists():
        raise StageError(f"{path} not found: run `ahf tokenizer` first")
    return with_pad_token(load_pretrained(AutoTokenizer, path, "the tokenizer"))


def tiny_gpt2_config(config: ModelConfig, tokenizer: PreTrainedTokenizerBase) -> GPT2Config:
    return GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=config.max_tokens,
        n_embd=config.n_embd,
        n_layer=config.n_layer,
        n_head=config.n_head,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def load_base_lm(config: ModelConfig, tokenizer: PreTrainedTokenizerBase):
    """A fresh tiny GPT-2, or the pretrained causal LM named by model.base."""
    if config.base == "tiny":
        return GPT2LMHeadModel(tiny_gpt2_config(config, tokenizer))
    model = load_pretrained(AutoModelForCausalLM, config.base, "the base model")
    model.config.pad_token_id = tokenizer.pad_token_id
    return model
