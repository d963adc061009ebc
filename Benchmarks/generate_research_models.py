"""Generates a Llama-shaped float32 checkpoint of about 96 M parameters and 4 task models for the
research-method benchmark (issue 4): hidden 768, intermediate 2048, 10 layers, 12 heads, vocab
16384, untied lm_head. Base matrices N(0, 0.02²), norms 1. Each task adds, to every matrix, a
rank-8 update (singular values 0.05·f_t·0.7^i along random directions) plus dense noise
N(0, 0.001²), and small random changes to half of each norm vector. Deterministic (seeded).

Usage: python3 generate_research_models.py OUT_DIR   (writes OUT_DIR/base, OUT_DIR/task_0..3)
"""
import json
import os
import sys

import numpy as np
from safetensors.numpy import save_file

HIDDEN, INTERMEDIATE, LAYERS, HEADS, VOCAB = 768, 2048, 10, 12, 16384


def shapes():
    yield "model.embed_tokens.weight", (VOCAB, HIDDEN)
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            yield p + f"self_attn.{name}.weight", (HIDDEN, HIDDEN)
        yield p + "mlp.gate_proj.weight", (INTERMEDIATE, HIDDEN)
        yield p + "mlp.up_proj.weight", (INTERMEDIATE, HIDDEN)
        yield p + "mlp.down_proj.weight", (HIDDEN, INTERMEDIATE)
        yield p + "input_layernorm.weight", (HIDDEN,)
        yield p + "post_attention_layernorm.weight", (HIDDEN,)
    yield "model.norm.weight", (HIDDEN,)
    yield "lm_head.weight", (VOCAB, HIDDEN)


def config():
    return {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
        "num_key_value_heads": HEADS, "vocab_size": VOCAB, "max_position_embeddings": 2048,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False,
        "hidden_act": "silu", "torch_dtype": "float32", "bos_token_id": 1, "eos_token_id": 2,
    }


def write(folder, tensors):
    os.makedirs(folder, exist_ok=True)
    save_file(tensors, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config(), f, indent=2)


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(0)
    base = {}
    for name, shape in shapes():
        base[name] = np.ones(shape, np.float32) if len(shape) == 1 else (rng.standard_normal(shape, np.float32) * 0.02)
    write(os.path.join(out, "base"), base)
    for t, f in enumerate([1.0, 0.8, 1.2, 0.6]):
        rng = np.random.default_rng(100 + t)
        task = {}
        for name, shape in shapes():
            if len(shape) == 1:
                change = rng.standard_normal(shape).astype(np.float32) * 0.01 * (rng.random(shape) < 0.5)
                task[name] = (base[name] + change).astype(np.float32)
                continue
            m, n = shape
            u = rng.standard_normal((m, 8)).astype(np.float32) / np.sqrt(m)
            v = rng.standard_normal((8, n)).astype(np.float32) / np.sqrt(n)
            s = (0.05 * f * 0.7 ** np.arange(8)).astype(np.float32)
            task[name] = (base[name] + (u * s) @ v + rng.standard_normal(shape, np.float32) * 0.001).astype(np.float32)
        write(os.path.join(out, f"task_{t}"), task)


if __name__ == "__main__":
    main()
