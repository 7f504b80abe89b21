"""LoRA through peft: only the adapters (and a reward model's head) train, and what is
saved is a plain transformers model that computes what the adapted one did."""

import torch
from torch.utils.data import DataLoader
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, GPT2ForSequenceClassification

from stages.common.config import LoraConfig, ModelConfig, SftConfig
from stages.common.distributed import SilentLive
from stages.modeling.adapters import is_lora, plain_model, trainable
from stages.modeling.base_model import load_base_lm, tiny_gpt2_config
from stages.modeling.story_format import encode_story, lm_batch
from stages.modeling.training_loop import accelerator_for, fit
from stages.sft import lm_loss

WITH_LORA = ModelConfig(
    n_layer=2, n_head=2, n_embd=32, max_tokens=48, max_prompt_tokens=16, lora=LoraConfig(r=4, dropout=0.0)
)


def story_batch(tokenizer) -> dict[str, torch.Tensor]:
    stories = [
        encode_story(tokenizer, f"[WP] Prompt {i}", "the river kept its storms " * (1 + i), 16, 48, True)
        for i in range(4)
    ]
    return lm_batch(stories, tokenizer.pad_token_id)


def test_lora_trains_only_the_adapters_and_saves_a_plain_model_with_the_same_logits(tmp_path, tiny_tokenizer):
    torch.manual_seed(0)
    model = trainable(load_base_lm(WITH_LORA, tiny_tokenizer), WITH_LORA, task="causal_lm")
    frozen = {name: p.detach().clone() for name, p in model.named_parameters() if not p.requires_grad}
    adapters = {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}
    assert adapters and all(".lora_A." in name or ".lora_B." in name for name in adapters)
    batch = story_batch(tiny_tokenizer)
    config = SftConfig(batch_size=4, max_steps=3, eval_every=3, warmup_steps=0, lr=1e-2, patience=0)
    fit(
        model=model,
        loader=DataLoader([batch], batch_size=None),
        loss_of=lm_loss,
        evaluate=lambda m: {"loss": 0.0},
        monitor="loss",
        higher_is_better=False,
        on_best=lambda m, s: None,
        config=config,
        accelerator=accelerator_for(config),
        live=SilentLive(),
        prefix="sft",
    )
    parameters = dict(model.named_parameters())
    assert all(torch.equal(parameters[name], value) for name, value in frozen.items())
    assert any(not torch.equal(parameters[name], value) for name, value in adapters.items())

    plain_model(model).save_pretrained(tmp_path / "sft")
    assert is_lora(model)  # the model in training keeps its adapters
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "sft").eval()
    assert not any("lora" in name for name in loaded.state_dict())
    model.eval()
    with torch.no_grad():
        adapted = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        merged = loaded(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        with model.disable_adapter():
            base = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert torch.allclose(merged, adapted, atol=1e-5)
    assert (merged - base).abs().max() > 1e-3  # the adapters changed what it computes


def test_a_reward_model_with_lora_trains_its_head_and_saves_a_plain_classifier(tmp_path, tiny_tokenizer):
    torch.manual_seed(0)
    backbone = tiny_gpt2_config(WITH_LORA, tiny_tokenizer)
    backbone.num_labels = 1
    model = trainable(GPT2ForSequenceClassification(backbone), WITH_LORA, task="sequence_classification")
    trained = [name for name, p in model.named_parameters() if p.requires_grad]
    assert any(".score." in name for name in trained) and any(".lora_B." in name for name in trained)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.normal_(std=0.1)  # as if trained: merging must carry adapters and head
    plain_model(model).save_pretrained(tmp_path / "reward")
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "reward").eval()
    batch = story_batch(tiny_tokenizer)
    with torch.no_grad():
        expected = model.eval()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        got = loaded(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert torch.allclose(got, expected, atol=1e-5)
