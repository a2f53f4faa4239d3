"""Makes the fixtures of test/optimizer/reference-step.test.ts: the reference implementation's output for one
GReaTer step in several settings (tools/reference/greater_step.py), on two models:
  * a small random Llama with the text layer's tiny-bytelevel tokenizer (made here, with a few train examples), and
  * models/tiny-reasoner, the shipped trained model, on the first train examples of its own task (when present).

The TypeScript optimizer must reproduce each step exactly: candidate set, k, gradient ranking, re-scored
candidates, chosen token and the random generator's state afterwards.

Run from the repository root:  python3 tools/reference/make_step_fixtures.py [--only random-llama|tiny-reasoner]
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

REASONER = os.path.join(REPO, "models", "tiny-reasoner")
REASONER_DATA = os.path.join(OUT, "tiny-reasoner-train.jsonl")
REASONER_TRAIN = 20
# A neutral prompt of the task's own words (tools/tiny_reasoner/study.py); its 5 tokens put the early exit at
# positions >= 2.5. Position 4 holds the ".", position 3 may see sentence ends among its candidates.
REASONER_COMMON = ["--initial-prompt", " the answer and think.", "--max-new-tokens", "64", "--threads", "1"]
REASONER_CASES = {
    "position0": ["--seed", "1"],
    "position3": ["--seed", "2", "--position", "3"],
    "position4": ["--seed", "3", "--position", "4", "--candidates-to-score", "4"],
    "no-fluency": ["--seed", "4", "--position", "1", "--control-weight", "0"],
    # Trying every candidate reaches the current "." at the last position: an early exit on a sentence end.
    "early-exit": ["--seed", "5", "--position", "4", "--candidates-to-score", "11"],
}


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


def run_cases(model, data, cases, common, prefix):
    for name, args in cases.items():
        out = os.path.join(OUT, f"{prefix}-step-{name}.json")
        cmd = [sys.executable, os.path.join(REPO, "tools", "reference", "greater_step.py"), "--model", model,
               "--data", data, "--out", out, *common, *args]
        print(" ".join(os.path.relpath(c, REPO) if c.startswith(REPO) else c for c in cmd), flush=True)
        subprocess.run(cmd, check=True)


def main():
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["random-llama", "tiny-reasoner"], default=None, help="make one model's fixtures")
    args = ap.parse_args()
    if args.only != "tiny-reasoner":
        make_model()
        make_data()
        run_cases(MODEL, DATA, CASES, COMMON, "random-llama")
    if args.only == "random-llama":
        return
    if not os.path.isdir(REASONER):
        print(f"{os.path.relpath(REASONER, REPO)} is absent: no tiny-reasoner fixtures", flush=True)
        return
    with open(os.path.join(REASONER, "task", "train.jsonl")) as f:
        rows = [json.loads(line) for line in f if line.strip()][:REASONER_TRAIN]
    with open(REASONER_DATA, "w") as f:
        for i, row in enumerate(rows):
            f.write(json.dumps({"id": f"train:{i}", "question": row["question"], "answer": row["answer"]}) + "\n")
    run_cases(REASONER, REASONER_DATA, REASONER_CASES, REASONER_COMMON, "tiny-reasoner")


if __name__ == "__main__":
    main()
