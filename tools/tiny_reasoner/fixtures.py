"""Write test/fixtures/tiny-reasoner/reference.json: what the Python reference (transformers) computes
with models/tiny-reasoner, so that the JS tokenizer and the libtorch model can be checked against it.

    python3 tools/tiny_reasoner/fixtures.py

Contents: texts with their token ids; for a few (question, prompt) pairs the chat prompt ids, the
greedy reasoning ids, the answer token and the top answer logits after " " + extractor, and the
prompt-token NLLs; one GReaTer gradient ranking (candidates and their summed gradient entries).
"""

import json
import os
import random
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import study  # noqa: E402
import task  # noqa: E402

REPO = study.REPO
MODEL = os.path.join(REPO, "models", "tiny-reasoner")
OUT = os.path.join(REPO, "test", "fixtures", "tiny-reasoner", "reference.json")


def main():
    torch.set_num_threads(1)
    m = study.Model(MODEL)
    rows = [json.loads(l) for l in open(os.path.join(MODEL, "task", "train.jsonl"))]
    texts = [" careful step by step.", " the answer and think.", task.EXTRACTOR, " " + task.EXTRACTOR,
             "3 + 8 = 1. 1 + 5 = 6.", task.HASTY_REASONING, "_",
             task.chat_prefix(task.user_content(rows[0]["question"], " careful step by step."))]
    out = {"model": "models/tiny-reasoner", "extractor": task.EXTRACTOR,
           "tokenization": [{"text": t, "ids": m.enc(t)} for t in texts], "examples": []}

    for prompt_text in (" the answer and think.", " careful step by step.", " quick guess."):
        p = m.enc(prompt_text)
        sub = rows[:4]
        seqs = [m.user_prefix(r["question"]) + p + m.asst for r in sub]
        reas = m.generate(seqs)
        full = [s + r + m.extractor for s, r in zip(seqs, reas)]
        logits = m.logits_at_end(full)
        for r, s, g, f, lg in zip(sub, seqs, reas, full, logits):
            top = lg.topk(5)
            out["examples"].append({
                "question": r["question"], "gold": r["answer"], "prompt": prompt_text,
                "chat_ids": s, "reasoning_ids": g, "reasoning": m.tok.decode(g),
                "answer_id": int(top.indices[0]), "answer": m.tok.decode([int(top.indices[0])]),
                "answer_top5": [[int(i), round(float(v), 4)] for i, v in zip(top.indices, top.values)],
                "prompt_nll": round(study.prompt_nll(m, [r], p), 5)})

    # One gradient ranking: neutral prompt, position 1, 10 train examples, seed 0 of the draws.
    sub, prompt = rows[:10], m.enc(" the answer and think.")
    reas = m.generate([m.user_prefix(r["question"]) + prompt + m.asst for r in sub])
    cands = study.propose(m, sub, prompt, 1, random.Random(0))
    ranked, grad = study.gradient_rank(m, sub, prompt, 1, cands, reas)
    out["gradient"] = {"prompt_ids": prompt, "position": 1, "examples": len(sub), "tau": study.TAU,
                       "lambda": study.LAMBDA, "candidates": cands,
                       "ranked": ranked, "ranked_text": [m.tok.decode([c]) for c in ranked],
                       "grad": {str(c): round(v, 5) for c, v in grad.items()}}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
