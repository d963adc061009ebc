"""Writes a Llama-shaped bfloat16 checkpoint of random weights, for benchmarks.

Usage: python3 generate_checkpoint.py OUT_FOLDER [--layers 16] [--hidden 2048] [--intermediate 5632]
                                       [--vocab 32000] [--kv-heads 4] [--heads 16] [--shards 2] [--seed 0]
                                       [--finetune-seed S [--finetune-scale 0.002]]

The defaults give 836 M parameters, 1.67 GB: embeddings, 16 decoder layers (GQA attention, SwiGLU
MLP, two RMSNorms) and an untied lm_head, in 2 shards with model.safetensors.index.json.
Only numpy is needed: the safetensors format is written directly (8-byte header length, JSON header,
raw little-endian data).
"""
import argparse
import json
import os

import numpy as np


def tensors(a):
    head_dim = a.hidden // a.heads
    kv = a.kv_heads * head_dim
    yield "model.embed_tokens.weight", (a.vocab, a.hidden)
    for i in range(a.layers):
        p = f"model.layers.{i}."
        yield p + "input_layernorm.weight", (a.hidden,)
        yield p + "self_attn.q_proj.weight", (a.hidden, a.hidden)
        yield p + "self_attn.k_proj.weight", (kv, a.hidden)
        yield p + "self_attn.v_proj.weight", (kv, a.hidden)
        yield p + "self_attn.o_proj.weight", (a.hidden, a.hidden)
        yield p + "post_attention_layernorm.weight", (a.hidden,)
        yield p + "mlp.gate_proj.weight", (a.intermediate, a.hidden)
        yield p + "mlp.up_proj.weight", (a.intermediate, a.hidden)
        yield p + "mlp.down_proj.weight", (a.hidden, a.intermediate)
    yield "model.norm.weight", (a.hidden,)
    yield "lm_head.weight", (a.vocab, a.hidden)


def bf16_bits(rng, shape, noise=None, scale=0.0):
    x = rng.standard_normal(shape, dtype=np.float32) * 0.02
    if noise is not None:
        x += noise.standard_normal(shape, dtype=np.float32) * scale
    x = x.view(np.uint32)
    # round to nearest even on the dropped 16 bits
    return ((x + 0x7FFF + ((x >> 16) & 1)) >> 16).astype("<u2")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=16)
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--intermediate", type=int, default=5632)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--finetune-seed", type=int, default=None,
                    help="write a fine-tune: the --seed base weights plus noise from this seed")
    ap.add_argument("--finetune-scale", type=float, default=0.002, help="noise scale of a fine-tune")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    noise = np.random.default_rng(a.finetune_seed) if a.finetune_seed is not None else None
    items = list(tensors(a))
    total = sum(int(np.prod(s)) * 2 for _, s in items)
    budget = total / a.shards
    groups, current, size = [], [], 0
    for name, shape in items:
        nbytes = int(np.prod(shape)) * 2
        if current and size + nbytes > budget * 1.02 and len(groups) < a.shards - 1:
            groups.append(current)
            current, size = [], 0
        current.append((name, shape))
        size += nbytes
    groups.append(current)
    weight_map = {}
    for k, group in enumerate(groups):
        fname = f"model-{k + 1:05d}-of-{len(groups):05d}.safetensors"
        header, offset = {"__metadata__": {"format": "pt"}}, 0
        for name, shape in group:
            n = int(np.prod(shape)) * 2
            header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
            offset += n
            weight_map[name] = fname
        text = json.dumps(header, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 8)
        with open(os.path.join(a.out, fname), "wb") as f:
            f.write(len(text).to_bytes(8, "little"))
            f.write(text)
            for name, shape in group:
                if name.endswith("norm.weight"):
                    f.write(np.full(shape, 0x3F80, dtype="<u2").tobytes())   # 1.0
                else:
                    f.write(bf16_bits(rng, shape, noise, a.finetune_scale).tobytes())
    with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": a.hidden,
        "intermediate_size": a.intermediate, "num_hidden_layers": a.layers, "num_attention_heads": a.heads,
        "num_key_value_heads": a.kv_heads, "vocab_size": a.vocab, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "max_position_embeddings": 4096, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
        "hidden_act": "silu",
    }
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    params = sum(int(np.prod(s)) for _, s in items)
    print(f"wrote {a.out}: {params / 1e6:.1f} M parameters, {total / 1e9:.2f} GB in {len(groups)} shards")


if __name__ == "__main__":
    main()
