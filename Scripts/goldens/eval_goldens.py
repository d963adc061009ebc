"""Reference numbers for the evaluation tests, computed with transformers (float32, eager):
perplexity of Tests/Fixtures/testbed/eval/perplexity.txt and the log-likelihood of every choice in
Tests/Fixtures/testbed/eval/mc/dev.jsonl, for the testbed base and add models. Same protocol as
Amalgam: ids = tokenizer encoding with special tokens (bos first); perplexity in consecutive
windows of max_position_embeddings tokens, each predicting its tokens after the first; a choice's
continuation is what encoding prompt+choice adds after the prompt's encoding.

    python Scripts/goldens/eval_goldens.py > Tests/Fixtures/testbed/eval/expected.json
"""
import json
import math

import torch
from tokenizers import Tokenizer
from transformers import LlamaForCausalLM

ROOT = "Examples/models"
out = {}
for name in ["base", "add"]:
    model = LlamaForCausalLM.from_pretrained(f"{ROOT}/{name}", attn_implementation="eager", dtype=torch.float32).eval()
    tok = Tokenizer.from_file(f"{ROOT}/{name}/tokenizer.json")
    text = open("Tests/Fixtures/testbed/eval/perplexity.txt").read()
    ids = tok.encode(text, add_special_tokens=True).ids
    window = model.config.max_position_embeddings
    total, count = 0.0, 0
    for start in range(0, len(ids), window):
        chunk = ids[start:start + window]
        if len(chunk) < 2:
            continue
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([chunk])).logits[0].double(), dim=-1)
        for i in range(1, len(chunk)):
            total -= logp[i - 1, chunk[i]].item()
            count += 1
    entry = {"perplexity": {"tokens": count, "mean_nll": total / count, "perplexity": math.exp(total / count)}, "choices": []}
    for line in open("Tests/Fixtures/testbed/eval/mc/dev.jsonl"):
        item = json.loads(line)
        context = tok.encode(item["prompt"], add_special_tokens=True).ids
        scores = []
        for choice in item["choices"]:
            whole = tok.encode(item["prompt"] + choice, add_special_tokens=True).ids
            assert whole[:len(context)] == context
            with torch.no_grad():
                logp = torch.log_softmax(model(torch.tensor([whole])).logits[0].double(), dim=-1)
            scores.append(sum(logp[i - 1, whole[i]].item() for i in range(len(context), len(whole))))
        entry["choices"].append(scores)
    out[name] = entry
print(json.dumps(out, indent=1))
