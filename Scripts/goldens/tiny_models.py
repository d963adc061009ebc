"""Writes tiny random-weight checkpoints of each architecture the forward pass supports, with
transformers' float32 eager logits for a few prompts:
    Tests/Fixtures/architectures/<name>/{config.json, model.safetensors, expected.safetensors}
expected.safetensors holds ids_<k> (int64 [L]) and logits_<k> (float32 [L, V]).

Run in a venv with torch (CPU build) and transformers:
    python Scripts/goldens/tiny_models.py Tests/Fixtures/architectures
"""
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import (LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM,
                          Qwen3Config, Qwen3ForCausalLM)

COMMON = dict(vocab_size=160, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-6, attn_implementation="eager")

MODELS = {
    # Llama 3.x RoPE scaling and tied embeddings.
    "llama3_tied": (LlamaForCausalLM, LlamaConfig(**COMMON, tie_word_embeddings=True, rope_parameters={
        "rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 16})),
    # Mistral with a sliding window shorter than the prompts.
    "mistral_window": (MistralForCausalLM, MistralConfig(**COMMON, sliding_window=6, rope_theta=10000.0, tie_word_embeddings=False)),
    # Qwen2: q/k/v biases.
    "qwen2": (Qwen2ForCausalLM, Qwen2Config(**COMMON, rope_theta=1000000.0, tie_word_embeddings=False, use_sliding_window=False)),
    # Qwen3: per-head q/k RMSNorm and a head_dim that is not hidden/heads.
    "qwen3": (Qwen3ForCausalLM, Qwen3Config(**COMMON, head_dim=24, rope_theta=1000000.0, tie_word_embeddings=False,
                                            use_sliding_window=False)),
}


def main(out):
    for index, (name, (cls, config)) in enumerate(MODELS.items()):
        torch.manual_seed(100 + index)
        model = cls(config).eval()
        with torch.no_grad():
            for param in model.parameters():  # larger than the init default, so every part matters
                param.normal_(0.0, 0.08 if param.dim() > 1 else 0.3)
            for n, param in model.named_parameters():
                if n.endswith("norm.weight"):
                    param.add_(1.0)
        folder = os.path.join(out, name)
        model.save_pretrained(folder, safe_serialization=True)
        generator = torch.Generator().manual_seed(7 + index)
        expected = {}
        for k, length in enumerate([5, 11, 17]):
            ids = torch.randint(0, config.vocab_size, (1, length), generator=generator)
            with torch.no_grad():
                logits = model(ids).logits[0].float()
            expected[f"ids_{k}"] = ids[0].to(torch.int64).contiguous()
            expected[f"logits_{k}"] = logits.contiguous()
        save_file(expected, os.path.join(folder, "expected.safetensors"))
        for extra in ("generation_config.json",):
            path = os.path.join(folder, extra)
            if os.path.exists(path):
                os.remove(path)
        print(name, sum(p.numel() for p in model.parameters()), "parameters")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Tests/Fixtures/architectures")
