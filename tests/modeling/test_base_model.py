import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from stages.common.config import ModelConfig
from stages.common.errors import StageError
from stages.modeling.base_model import load_base_lm, load_tokenizer, tiny_gpt2_config


def test_tiny_base_is_a_fresh_gpt2_of_the_params_shape(tiny_tokenizer):
    config = ModelConfig(n_layer=2, n_head=2, n_embd=32, max_tokens=64, max_prompt_tokens=16)
    model = load_base_lm(config, tiny_tokenizer)
    assert isinstance(model, GPT2LMHeadModel)
    assert (model.config.n_layer, model.config.n_embd, model.config.n_positions) == (2, 32, 64)
    assert model.config.vocab_size == len(tiny_tokenizer)
    assert model.config.pad_token_id == tiny_tokenizer.pad_token_id


def test_a_pretrained_base_loads_from_a_local_folder(tmp_path, tiny_tokenizer):
    saved = GPT2LMHeadModel(GPT2Config(vocab_size=len(tiny_tokenizer), n_positions=64, n_embd=16, n_layer=1, n_head=2))
    saved.save_pretrained(tmp_path / "base")
    loaded = load_base_lm(ModelConfig(base=str(tmp_path / "base")), tiny_tokenizer)
    assert (tmp_path / "base" / "model.safetensors").exists()
    for (name, a), (_, b) in zip(saved.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert loaded.config.pad_token_id == tiny_tokenizer.pad_token_id
    # The reward model's backbone (reward.init: base) comes from the same folder, with a fresh head.
    from stages.common.config import RewardConfig
    from stages.modeling.reward_model import new_reward_model

    reward = new_reward_model(RewardConfig(init="base"), ModelConfig(base=str(tmp_path / "base")), tiny_tokenizer)
    assert torch.equal(reward.transformer.wte.weight, saved.transformer.wte.weight)
    assert reward.config.num_labels == 1 and reward.config.pad_token_id == tiny_tokenizer.pad_token_id


def test_a_base_that_cannot_be_found_is_a_one_line_error(tmp_path, tiny_tokenizer):
    with pytest.raises(StageError, match="cannot load the base model from") as error:
        load_base_lm(ModelConfig(base=str(tmp_path / "nowhere")), tiny_tokenizer)
    assert "\n" not in str(error.value)


def test_a_missing_tokenizer_says_which_stage_makes_it(tmp_path):
    with pytest.raises(StageError, match="run `ahf tokenizer` first"):
        load_tokenizer(tmp_path / "models/tokenizer")


def test_tiny_config_uses_the_tokenizers_special_tokens(tiny_tokenizer):
    config = tiny_gpt2_config(ModelConfig(), tiny_tokenizer)
    assert config.eos_token_id == tiny_tokenizer.eos_token_id
    assert config.pad_token_id == tiny_tokenizer.pad_token_id


def test_load_fused_swaps_gelu_new_for_its_fused_equal_and_keeps_the_outputs(tmp_path, tiny_tokenizer):
    from transformers import AutoModelForCausalLM

    from stages.modeling.base_model import load_fused

    torch.manual_seed(0)
    model = load_base_lm(
        ModelConfig(n_layer=1, n_head=2, n_embd=16, max_tokens=32, max_prompt_tokens=8), tiny_tokenizer
    )
    model.save_pretrained(tmp_path)
    fused = load_fused(AutoModelForCausalLM, tmp_path, "the test model")
    assert model.config.activation_function == "gelu_new"
    assert fused.config.activation_function == "gelu_pytorch_tanh"
    ids = torch.randint(0, len(tiny_tokenizer), (2, 10))
    with torch.no_grad():
        assert torch.allclose(model.eval()(ids).logits, fused.eval()(ids).logits, atol=1e-5)
