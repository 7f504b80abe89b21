"""A loaded model made ready to train at scale, and the plain model that is saved.

model.lora (r > 0) wraps it in peft's low-rank adapters, so that only they (and a reward
model's fresh head) train; model.gradient_checkpointing trades compute for activation
memory. What a stage saves is always a plain transformers model with the adapters
merged in, so every later stage, and any Hugging Face tool, loads it without peft.
"""

import copy
import sys
import warnings

import torch
from transformers.pytorch_utils import Conv1D

from stages.common.config import ModelConfig
from stages.common.errors import StageError
from stages.modeling.checkpointing import checkpoint_activations

# peft's task types: they decide which modules beside the adapters train (a sequence
# classifier's head, `score` for GPT-2, is trained whole and saved).
PEFT_TASKS = {"causal_lm": "CAUSAL_LM", "sequence_classification": "SEQ_CLS"}


def trainable(model: torch.nn.Module, config: ModelConfig, task: str) -> torch.nn.Module:
    """The model as model.gradient_checkpointing and model.lora ask (both off: itself)."""
    if config.gradient_checkpointing:
        checkpoint_activations(model)
    if config.lora.r == 0:
        return model
    from peft import LoraConfig, get_peft_model

    targets = list(config.lora.target_modules)
    adapters = LoraConfig(
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=targets,
        task_type=PEFT_TASKS[task],
        # GPT-2 stores its projections transposed (Conv1D); peft must know to adapt them.
        fan_in_fan_out=any(
            isinstance(module, Conv1D) for name, module in model.named_modules() if name.split(".")[-1] in targets
        ),
    )
    try:
        with warnings.catch_warnings():
            # peft asks transformers' deprecated is_gradient_checkpointing: its warning, not ours.
            warnings.simplefilter("ignore", FutureWarning)
            return get_peft_model(model, adapters)
    except ValueError as error:
        raise StageError(f"model.lora.target_modules: {str(error).splitlines()[0]}") from error


def is_lora(model: torch.nn.Module) -> bool:
    # peft is imported only when model.lora asks for it; no peft loaded, no adapters.
    peft = sys.modules.get("peft")
    return peft is not None and isinstance(model, peft.PeftModel)


def plain_model(model: torch.nn.Module) -> torch.nn.Module:
    """What to save: the model itself, or with LoRA a copy with the adapters merged into
    its weights (the model that goes on training keeps its adapters)."""
    if not is_lora(model):
        return model
    return copy.deepcopy(model).merge_and_unload()
