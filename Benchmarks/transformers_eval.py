"""The testbed decoding protocol run with Python transformers (float32, eager attention, CPU),
for the side-by-side throughput figure: greedy, stop before eos or a token whose decode contains a
newline, at most 16 new tokens; prompts of equal token length decoded together with a KV cache.

    python transformers_eval.py MODEL_DIR TASKS_DIR SPLIT THREADS [cache|nocache]  → one JSON line on stdout

`nocache` is the testbed reference protocol: a full forward pass over the whole sequence at every
step. `cache` (default) feeds only the new token with the KV cache.
"""
import json
import os
import sys
import time

import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM

model_dir, tasks_dir, split, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
use_cache = (sys.argv[5] if len(sys.argv) > 5 else "cache") == "cache"
torch.set_num_threads(threads)
load_start = time.perf_counter()
model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager").eval()
tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
load_seconds = time.perf_counter() - load_start
eos = {1} if model.config.eos_token_id is None else set([model.config.eos_token_id] if isinstance(model.config.eos_token_id, int) else model.config.eos_token_id)
stop = set(eos) | {i for i in range(tok.get_vocab_size()) if "\n" in tok.decode([i])}

results = {}
start = time.perf_counter()
generated_total = 0
prompts_total = 0
for task in sorted(os.listdir(tasks_dir)):
    path = os.path.join(tasks_dir, task, f"{split}.jsonl")
    if not os.path.exists(path):
        continue
    items = [json.loads(line) for line in open(path) if line.strip()]
    ids = [tok.encode(item["prompt"], add_special_tokens=True).ids for item in items]
    outputs = [None] * len(items)
    by_length = {}
    for index, prompt in enumerate(ids):
        by_length.setdefault(len(prompt), []).append(index)
    with torch.no_grad():
        for length, members in sorted(by_length.items()):
            batch = torch.tensor([ids[i] for i in members])
            out = model(batch, use_cache=use_cache)
            past = out.past_key_values
            logits = out.logits[:, -1, :]
            generated = [[] for _ in members]
            alive = [True] * len(members)
            for step in range(16):
                next_tokens = logits.argmax(dim=-1).tolist()
                for slot, token in enumerate(next_tokens):
                    if not alive[slot]:
                        continue
                    if token in stop:
                        alive[slot] = False
                    else:
                        generated[slot].append(token)
                if not any(alive) or step == 15:
                    break
                # Finished rows keep decoding a dummy token (their output is ignored), as batched generate does.
                feed = torch.tensor([[t] for t in next_tokens])
                if use_cache:
                    out = model(feed, past_key_values=past, use_cache=True)
                    past = out.past_key_values
                else:
                    batch = torch.cat([batch, feed], dim=1)
                    out = model(batch, use_cache=False)
                logits = out.logits[:, -1, :]
            for slot, index in enumerate(members):
                outputs[index] = generated[slot]
    correct = 0
    for item, gen in zip(items, outputs):
        prediction = tok.decode(gen)
        if prediction.split("\n")[0].strip() == item["answer"].split("\n")[0].strip():
            correct += 1
        generated_total += len(gen)
    prompts_total += len(items)
    results[task] = {"total": len(items), "correct": correct, "mean_response_tokens": sum(map(len, outputs)) / len(items),
                     "gen_ids": outputs}
seconds = time.perf_counter() - start
print(json.dumps({"load_seconds": load_seconds, "seconds": seconds, "prompts": prompts_total, "generated": generated_total,
                  "tasks": results}))
