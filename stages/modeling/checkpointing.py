"""Gradient (activation) checkpointing that follows autograd rather than training mode.

transformers recomputes a block's activations in the backward pass only while the block
is in training mode, and switches the KV cache off whenever it does. The RL policy
trains in eval mode (dropout off, so the log-probs it trains on are those its samples
were drawn from) and samples with a KV cache. So here every module that checkpoints
(the blocks, and the model that drops the cache for them) counts as training exactly
while autograd records: an update recomputes its activations, sampling under no_grad
keeps its cache. Only those modules' own flag moves; their dropout modules keep the
mode the model was put in.
"""

import torch


def checkpoint_activations(model: torch.nn.Module) -> None:
    # Non-reentrant checkpointing needs no input that requires grad (LoRA's frozen
    # embeddings give none) and is what torch recommends.
    model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    model.register_forward_pre_hook(checkpoint_while_recording)


def checkpoint_while_recording(model: torch.nn.Module, args) -> None:
    recording = torch.is_grad_enabled()
    for module in model.modules():
        if getattr(module, "gradient_checkpointing", False):
            module.training = recording
