"""Makes the fixtures of test/optimizer/reference-step.test.ts: a small random Llama with the text layer's
tiny-bytelevel tokenizer, a few train examples, and the reference implementation's output for one GReaTer step
in several settings (tools/reference/greater_step.py).

The TypeScript optimizer must reproduce each step exactly: candidate set, k, gradient ranking, re-scored
candidates, chosen token and the random generator's state afterwards.

Run from the repository root:  python3 tools/reference/make_step_fixtures.py
Needs: torch, transformers (offline). Takes about a minute on a laptop CPU.
"""

import json
import os
import random
import shutil
import subprocess
import sys

import torch
from transformers import LlamaConfig, LlamaForCausalLM

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKENIZER = os.path.join(REPO, "test", "fixtures", "tokenizers", "tiny-bytelevel")
OUT = os.path.join(REPO, "test", "optimizer", "fixtures")
MODEL = os.path.join(OUT, "random-llama")
DATA = os.path.join(OUT, "random-llama-train.jsonl")

# One step per case: where it starts, how it is configured. The first raises k (top-4 sets rarely share 6
# tokens); the second works at a position where a sentence end may exit early; the third is the random-ranking
# ablation; the fourth computes the gradient without reasoning.
CASES = {
    "position0-raise-k": ["--seed", "3", "--top-k", "4"],
    "position20": ["--seed", "7", "--position", "20", "--candidates-to-score", "5"],
    "random-ranking": ["--seed", "11", "--position", "3", "--ranking", "random"],
    "no-reasoning": ["--seed", "5", "--position", "7", "--reasoning", "false", "--control-weight", "0"],
}
COMMON = ["--max-new-tokens", "12", "--threads", "1"]


def make_model():
    with open(os.path.join(TOKENIZER, "tokenizer.json")) as f:
        tok = json.load(f)
    vocab = 1 + max(max(tok["model"]["vocab"].values()), max(t["id"] for t in tok["added_tokens"]))
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         tie_word_embeddings=True, bos_token_id=0, eos_token_id=[1, 4], pad_token_id=5)
    model = LlamaForCausalLM(config)
    with torch.no_grad():   # larger logits than the default init, so the distributions are not all flat
        model.model.embed_tokens.weight.mul_(25)
    os.makedirs(MODEL, exist_ok=True)
    model.save_pretrained(MODEL, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        shutil.copy(os.path.join(TOKENIZER, name), os.path.join(MODEL, name))


def make_data():
    rng = random.Random(1)
    with open(DATA, "w") as f:
        for i in range(12):
            terms = [rng.randint(1, 9) for _ in range(rng.randint(2, 4))]
            question = "What is the last digit of " + " + ".join(map(str, terms))
            f.write(json.dumps({"id": f"train:{i}", "question": question, "answer": str(sum(terms) % 10)}) + "\n")


def main():
    make_model()
    make_data()
    for name, args in CASES.items():
        out = os.path.join(OUT, f"random-llama-step-{name}.json")
        cmd = [sys.executable, os.path.join(REPO, "tools", "reference", "greater_step.py"), "--model", MODEL,
               "--data", DATA, "--out", out, *COMMON, *args]
        print(" ".join(os.path.relpath(c, REPO) if c.startswith(REPO) else c for c in cmd), flush=True)
        subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
