"""The reference side of the research-method benchmark: one merge with FusionBench 0.2.33, from
model folders to a saved merged model, as a user would run it.

  python fusionbench_merge.py METHOD OUT BASE TASK...

METHOD is tsv_m, iso_cts, opcm (FusionBench's classes: TaskSingularVectorMerging(alpha=1),
ISO_CTS_Merge(scaling_factor=1, common_space_fraction=0.8), OPCM(alpha=0.5, shuffle_order=False)),
tall_masks (FusionBench's generate_task_masks helper on flattened state dicts, λ = 0.6, since its
TallMaskTaskArithmeticAlgorithm class fails on nn.Module pools), or pcb (FusionBench has no PCB:
the authors' formulation written out in torch over the flattened T×d matrix, ratio 0.1, clamp 1e-4).
Models are loaded lazily by the pool where the method allows it. Writes OUT (or OUT/task_i).
"""
import os
import sys

import torch
from transformers import LlamaForCausalLM


def load(path):
    return LlamaForCausalLM.from_pretrained(path, torch_dtype=torch.float32)


def pool(base, tasks):
    from fusion_bench.modelpool import BaseModelPool
    from omegaconf import DictConfig
    spec = lambda p: DictConfig({"_target_": "transformers.LlamaForCausalLM.from_pretrained",
                                 "pretrained_model_name_or_path": p, "torch_dtype": "float32"})
    models = {"_pretrained_": spec(base)}
    for i, t in enumerate(tasks):
        models[f"task_{i}"] = spec(t)
    return BaseModelPool(DictConfig(models))


def flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.state_dict().values()])


def unflat(model, vector):
    state, offset = model.state_dict(), 0
    for name, p in state.items():
        n = p.numel()
        p.copy_(vector[offset:offset + n].view_as(p))
        offset += n


def clamp_rows(x, a, b):
    d = x.shape[1]
    s = torch.sort(x, dim=1).values
    lo = s[:, int(d * a)].unsqueeze(1)
    hi = s[:, int(d * (1 - b)) - 1].unsqueeze(1)
    return torch.clamp(x, lo, hi)


def minmax_rows(x):
    lo = x.min(dim=1, keepdim=True).values
    hi = x.max(dim=1, keepdim=True).values
    return (x - lo) / (hi - lo)


def main():
    method, out, base, tasks = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    torch.set_grad_enabled(False)
    if method in ("tsv_m", "iso_cts", "opcm"):
        if method == "tsv_m":
            from fusion_bench.method import TaskSingularVectorMerging
            algorithm = TaskSingularVectorMerging(alpha=1.0)
        elif method == "iso_cts":
            from fusion_bench.method import ISO_CTS_Merge
            algorithm = ISO_CTS_Merge(scaling_factor=1.0, common_space_fraction=0.8)
        else:
            from fusion_bench.method.opcm.opcm_general import OPCM
            algorithm = OPCM(alpha=0.5, shuffle_order=False, save_on_every_step=False)
        merged = algorithm.run(pool(base, tasks))
        merged.save_pretrained(out, safe_serialization=True)
        return
    from fusion_bench.method.tall_mask.utils import generate_task_masks
    pretrained = load(base)
    flat_base = flat(pretrained)
    flat_ft = torch.stack([flat(load(t)) for t in tasks])
    tv = flat_ft - flat_base
    if method == "tall_masks":
        masks = generate_task_masks(tv, flat_ft, flat_base, tall_mask_lambda=0.6)
        mtv = tv.sum(0)
        for i in range(len(tasks)):
            unflat(pretrained, flat_base + masks[i] * mtv)
            pretrained.save_pretrained(os.path.join(out, f"task_{i}"), safe_serialization=True)
    elif method == "pcb":
        n = tv.shape[0]
        a = clamp_rows(tv.abs(), 1e-4, 1e-4)
        c = torch.sign(tv) * a
        intra = torch.exp(n * minmax_rows(a) ** 2)
        inter = torch.tanh(tv * tv.sum(0, keepdim=True))
        w = minmax_rows(clamp_rows(intra * inter, 1 - 0.1, 0))
        merged = (c * w).sum(0) / torch.clamp(w.sum(0), min=1e-12)
        unflat(pretrained, flat_base + merged)
        pretrained.save_pretrained(out, safe_serialization=True)
    else:
        raise SystemExit(f"unknown method {method}")


if __name__ == "__main__":
    main()
