"""Records reference values of the IO test fixtures, read with the Python `safetensors` library.

For every tensor of each fixture checkpoint: dtype, shape, the float64 sum and sum of squares of its
values, and its first and last element. Run from the repository root with a venv that has
safetensors, numpy and torch (for bf16):

    python Scripts/goldens/fixture_values.py > Tests/Fixtures/io-expected-values.json
"""
import json
import os
import sys

import numpy as np
from safetensors import safe_open

ROOT = "Tests/Fixtures/mergekit/models"
CHECKPOINTS = ["llama_f32/base", "llama_f32/ft_c", "llama_bf16/base"]

out = {}
for ckpt in CHECKPOINTS:
    folder = os.path.join(ROOT, ckpt)
    tensors = {}
    for file in sorted(f for f in os.listdir(folder) if f.endswith(".safetensors")):
        with safe_open(os.path.join(folder, file), framework="pt") as f:
            for name in f.keys():
                t = f.get_tensor(name)
                dtype = str(t.dtype).replace("torch.", "")
                values = t.double().numpy().ravel()
                tensors[name] = {
                    "shard": file,
                    "dtype": dtype,
                    "shape": list(t.shape),
                    "sum": float(values.sum()),
                    "sum_squares": float((values * values).sum()),
                    "first": float(values[0]),
                    "last": float(values[-1]),
                }
    out[ckpt] = tensors
json.dump(out, sys.stdout, indent=1, sort_keys=True)
print()
