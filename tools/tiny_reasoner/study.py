"""Measure models/tiny-reasoner the GReaTer way and write its README.md.

    python3 tools/tiny_reasoner/study.py [--model models/tiny-reasoner] [--no-readme]

1. Held-out test accuracy for several prompts: greedy reasoning until <|eot_id|>, then
   " " + extractor, then one greedy answer token, compared with the gold digit.
2. One GReaTer step in Python, from a neutral prompt, at several positions and seeds: candidate
   proposal (top-k of the model's own next-token distribution, intersected over random groups of
   train examples), gradient through the fixed reasoning w.r.t. a one-hot at the prompt position,
   ranking, and the selection of the 3 best-ranked by re-generated reasoning.  Reports where the
   careful words land in the gradient ranking and what a random ranking would have found.
Loads everything through transformers' Auto classes, as a user of the folder would.
"""

import argparse
import itertools
import json
import math
import os
import random
import re
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import task  # noqa: E402

from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TAU, LAMBDA, TOPK, TOPQ, GROUP, MIN_CANDS, KEEP = 0.2, 0.2, 11, 6, 5, 6, 3

PROMPTS = {   # name -> prompt text (what follows 'Use"'; starts with a space)
    "none": "",
    "neutral": " the answer and think.",
    "hasty": " quick guess.",
    "one kind (manner)": " careful answer.",
    "one kind (process)": " answer step by step.",
    "careful (both kinds)": " careful step by step.",
    "careful + hasty": " careful step by step, quick.",
}


class Model:
    def __init__(self, path):
        self.tok = AutoTokenizer.from_pretrained(path)
        self.lm = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
        t = self.tok
        self.eot = t.convert_tokens_to_ids(task.EOT)
        self.pad = t.pad_token_id
        self.E = self.lm.get_input_embeddings().weight
        self.extractor = t.encode(" " + task.EXTRACTOR, add_special_tokens=False)
        self.asst = t.encode(f"{task.EOT}{task.SH}assistant{task.EH}\n\n", add_special_tokens=False)
        self.digit = {str(d): t.encode(str(d), add_special_tokens=False)[0] for d in range(10)}
        # Tokens the optimizer may propose: letters and spaces only, plus "." and "," (not specials).
        allowed = torch.zeros(len(t), dtype=torch.bool)
        for i in range(len(t)):
            s = t.decode([i])
            allowed[i] = (i not in t.all_special_ids and bool(re.fullmatch(r"[A-Za-z ]*[A-Za-z][A-Za-z ]*|\.|,", s)))
        self.allowed = allowed

    def enc(self, text):
        return self.tok.encode(text, add_special_tokens=False)

    def user_prefix(self, q):
        return self.enc(f'{task.BOS}{task.SH}user{task.EH}\n\n"{q}. Use"')

    def check_template(self, q, prompt):
        """The chat template must render exactly the sequence the ids are built from."""
        text = self.tok.apply_chat_template([{"role": "user", "content": task.user_content(q, prompt)}],
                                            tokenize=False, add_generation_prompt=True)
        assert text == task.chat_prefix(task.user_content(q, prompt)), text
        built = self.user_prefix(q) + self.enc(prompt) + self.asst
        assert self.enc(text) == built, (self.enc(text), built)

    # -- batched forward passes (right padding; causal attention makes the pads harmless) --
    def logits_at_end(self, seqs):
        n = max(len(s) for s in seqs)
        inp = torch.full((len(seqs), n), self.pad)
        att = torch.zeros((len(seqs), n), dtype=torch.long)
        for b, s in enumerate(seqs):
            inp[b, :len(s)] = torch.tensor(s)
            att[b, :len(s)] = 1
        with torch.no_grad():
            lg = self.lm(input_ids=inp, attention_mask=att).logits
        return lg[torch.arange(len(seqs)), torch.tensor([len(s) - 1 for s in seqs])]

    @torch.no_grad()
    def generate(self, seqs, max_new=40):
        """Greedy reasoning per row, stopping at <|eot_id|>: HF generate with left padding."""
        n = max(len(s) for s in seqs)
        inp = torch.full((len(seqs), n), self.pad)
        att = torch.zeros((len(seqs), n), dtype=torch.long)
        for b, s in enumerate(seqs):
            inp[b, n - len(s):] = torch.tensor(s)
            att[b, n - len(s):] = 1
        out = self.lm.generate(input_ids=inp, attention_mask=att, max_new_tokens=max_new, do_sample=False,
                               eos_token_id=self.eot, pad_token_id=self.pad)
        res = []
        for row in out[:, n:].tolist():
            res.append(row[:row.index(self.eot)] if self.eot in row else row)
        return res

    def evaluate(self, rows, prompt_ids, max_new=40):
        """GReaTer evaluation: reasoning, then ' ' + extractor, then the greedy answer token."""
        seqs = [self.user_prefix(r["question"]) + prompt_ids + self.asst for r in rows]
        reasonings = self.generate(seqs, max_new)
        full = [s + r + self.extractor for s, r in zip(seqs, reasonings)]
        ans = self.logits_at_end(full).argmax(-1).tolist()
        out = []
        for r, reas, a in zip(rows, reasonings, ans):
            terms = task.terms_of(r["question"])
            out.append({"terms": len(terms), "correct": self.tok.decode([a]) == r["answer"],
                        "steps_ok": self.tok.decode(reas) == task.steps_of(terms)[1],
                        "no_steps": self.tok.decode(reas) == task.HASTY_REASONING,
                        "reasoning_tokens": len(reas)})
        return out


def summarise(res):
    acc = sum(r["correct"] for r in res) / len(res)
    by_terms = {}
    for n in sorted({r["terms"] for r in res}):
        sub = [r for r in res if r["terms"] == n]
        by_terms[n] = sum(r["correct"] for r in sub) / len(sub)
    return {"accuracy": acc, "by_terms": by_terms,
            "steps_written_correctly": sum(r["steps_ok"] for r in res) / len(res),
            "wrote_no_steps": sum(r["no_steps"] for r in res) / len(res),
            "mean_reasoning_tokens": sum(r["reasoning_tokens"] for r in res) / len(res),
            "max_reasoning_tokens": max(r["reasoning_tokens"] for r in res)}


# ---------------------------------------------------------------------------------------------
# One GReaTer step
# ---------------------------------------------------------------------------------------------
def propose(m, rows, prompt, i, rng, k=TOPK):
    """Candidate tokens for prompt position i (the authors' top-k / intersection / union rule)."""
    seqs = [m.user_prefix(r["question"]) + prompt[:i] for r in rows]
    lg = m.logits_at_end(seqs)                             # the distribution of the token at i
    lg[:, ~m.allowed] = -math.inf
    if i > 0:
        lg[:, prompt[i - 1]] = -math.inf                   # no immediate repetition
    while True:
        tops = [set(x) for x in lg.topk(k, -1).indices.tolist()]
        cands = set()
        for _ in range(TOPQ):
            group = rng.sample(range(len(rows)), GROUP)
            cands |= set.intersection(*(tops[g] for g in group))
        if len(cands) >= MIN_CANDS:
            break
        k += 2
    cands.add(prompt[i])
    return sorted(cands)


def gradient_rank(m, rows, prompt, i, cands, reasonings):
    """Sum over examples of d loss / d one-hot at prompt position i, for the candidate tokens."""
    seqs, pos_i, prompt_pos, ans_pos = [], [], [], []
    for r, reas in zip(rows, reasonings):
        u = m.user_prefix(r["question"])
        s = u + prompt + m.asst + reas + m.extractor + [m.digit[r["answer"]]]
        seqs.append(s)
        pos_i.append(len(u) + i)
        prompt_pos.append(list(range(len(u), len(u) + len(prompt))))
        ans_pos.append(len(s) - 1)
    n = max(len(s) for s in seqs)
    inp = torch.full((len(seqs), n), m.pad)
    att = torch.zeros((len(seqs), n), dtype=torch.long)
    for b, s in enumerate(seqs):
        inp[b, :len(s)] = torch.tensor(s)
        att[b, :len(s)] = 1
    onehot = torch.zeros(len(seqs), m.E.shape[0])
    onehot[:, prompt[i]] = 1.0
    onehot.requires_grad_(True)
    emb = m.E[inp].detach()
    rows_idx = torch.arange(len(seqs))
    emb[rows_idx, torch.tensor(pos_i)] = 0.0
    # The one-hot row times E at position i, everything else the ordinary embeddings.
    put = torch.zeros(len(seqs), n, 1)
    put[rows_idx, torch.tensor(pos_i)] = 1.0
    emb = emb + put * (onehot @ m.E)[:, None, :]
    logits = m.lm(inputs_embeds=emb, attention_mask=att).logits
    loss = 0.0
    for b in range(len(seqs)):
        y = seqs[b][ans_pos[b]]
        ce = F.cross_entropy(logits[b, ans_pos[b] - 1] / TAU, torch.tensor(y))
        pp = torch.tensor(prompt_pos[b])
        nll = F.cross_entropy(logits[b, pp - 1], torch.tensor([seqs[b][j] for j in prompt_pos[b]]))
        loss = loss + ce + LAMBDA * nll
    loss.backward()
    g = onehot.grad.sum(0)
    return sorted(cands, key=lambda c: g[c].item()), {c: g[c].item() for c in cands}


def select(m, rows, prompt, i, top):
    """Step 4: re-generate the reasoning with each of the best-ranked candidates and score them
    (mistake rate + lambda/10 * prompt NLL); returns (best token, {token: (score, accuracy)})."""
    scores = {}
    for c in top:
        p = prompt[:i] + [c] + prompt[i + 1:]
        res = m.evaluate(rows, p)
        acc = sum(r["correct"] for r in res) / len(rows)
        nll = prompt_nll(m, rows, p)
        scores[c] = ((1 - acc) + LAMBDA / 10 * nll, acc)
    best = min(top[::-1], key=lambda c: scores[c][0])     # ties: the later one (the code's <=)
    return best, scores


def prompt_nll(m, rows, p):
    seqs = [m.user_prefix(r["question"]) + p for r in rows]
    tot = 0.0
    for s in seqs:
        with torch.no_grad():
            lg = m.lm(input_ids=torch.tensor([s])).logits[0]
        L = len(p)
        tot += F.cross_entropy(lg[len(s) - L - 1:len(s) - 1], torch.tensor(s[-L:])).item()
    return tot / len(seqs)


def word_class(t):
    if t in task.MANNER:
        return "manner"
    if t in task.PROCESS:
        return "process"
    if t in task.HASTY:
        return "hasty"
    return "neutral"


def greater_check(m, rows, prompt_text, positions, seeds, want):
    """Run step 0-4 at each (position, seed); `want` = the classes that should rank first."""
    prompt = m.enc(prompt_text)
    reasonings = m.generate([m.user_prefix(r["question"]) + prompt + m.asst for r in rows])
    cases = []
    for i, seed in itertools.product(positions, seeds):
        rng = random.Random(1000 * seed + i)
        cands = propose(m, rows, prompt, i, rng)
        ranked, grad = gradient_rank(m, rows, prompt, i, cands, reasonings)
        words = [m.tok.decode([c]) for c in ranked]
        good = [r for r, c in enumerate(ranked, 1) if word_class(m.tok.decode([c])) in want]
        n, g = len(ranked), len(good)
        p_random = 1 - math.comb(n - g, KEEP) / math.comb(n, KEEP) if n >= KEEP else 1.0
        best, scores = select(m, rows, prompt, i, ranked[:KEEP])
        cases.append({"position": i, "seed": seed, "replaced": m.tok.decode([prompt[i]]),
                      "ranking": words, "good_ranks": good, "n_candidates": n,
                      "good_fraction": g / n, "top3_has_good": bool(good) and good[0] <= KEEP,
                      "random3_has_good_prob": p_random,
                      "chosen": m.tok.decode([best]), "chosen_train_acc": scores[best][1],
                      "top3_train_acc": {m.tok.decode([c]): s[1] for c, s in scores.items()}})
        print(f"  pos {i} seed {seed}: {n} candidates, wanted ranks {good}; top: {words[:5]} -> chose "
              f"{m.tok.decode([best])!r} (train acc {scores[best][1]:.2f})", flush=True)
    return cases


def mini_run(m, rows, init_text, n_steps):
    """A small but complete GReaTer run (steps 0-5 of docs/algorithm.md, one position per step), to
    show that the optimizer's own loop climbs from the neutral prompt to a careful one."""
    prompt, init_len, i = m.enc(init_text), len(m.enc(init_text)), 0
    filler = m.enc(task.FILLER)[0]
    best, log = None, []
    for step in range(n_steps):
        reasonings = m.generate([m.user_prefix(r["question"]) + prompt + m.asst for r in rows])   # 0
        cands = propose(m, rows, prompt, i, random.Random(step))                                  # 1
        ranked, _ = gradient_rank(m, rows, prompt, i, cands, reasonings)                          # 2
        top = ranked[:KEEP]                                                                         # 3
        early = [c for c in top if "." in m.tok.decode([c])] if i >= 0.5 * init_len else []
        if early:                                                                                  # 4
            chosen = early[0]
            _, scores = select(m, rows, prompt, i, [chosen])
        else:
            chosen, scores = select(m, rows, prompt, i, top)
        prompt = prompt[:i] + [chosen] + prompt[i + 1:]
        score, acc = scores[chosen]
        text = m.tok.decode(prompt)
        log.append({"step": step, "position": i, "chosen": m.tok.decode([chosen]), "prompt": text,
                    "score": score, "train_acc": acc})
        print(f"  step {step} pos {i}: {text!r} score {score:.3f} train acc {acc:.2f}", flush=True)
        if best is None or score < best[0]:
            best = (score, list(prompt))
        i += 1                                                                                     # 5
        if i == len(prompt):
            if "." in m.tok.decode([prompt[-1]]):
                i = 0
            else:
                prompt = prompt + [filler]
    return log, best[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(REPO, "models", "tiny-reasoner"))
    ap.add_argument("--n-train", type=int, default=50)
    ap.add_argument("--no-readme", action="store_true")
    ap.add_argument("--run-steps", type=int, default=8)
    ap.add_argument("--readme-only", action="store_true", help="re-render README.md from study.json")
    args = ap.parse_args()
    if args.readme_only:
        with open(os.path.join(args.model, "study.json")) as f:
            write_readme(args.model, json.load(f))
        return
    torch.set_num_threads(1)
    torch.manual_seed(0)
    t0 = time.time()
    m = Model(args.model)
    load = lambda name: [json.loads(l) for l in open(os.path.join(args.model, "task", f"{name}.jsonl"))]
    train, test = load("train")[:args.n_train], load("test")
    m.check_template(test[0]["question"], PROMPTS["neutral"])

    print("== held-out test accuracy ==", flush=True)
    acc = {}
    for name, text in PROMPTS.items():
        t = time.time()
        acc[name] = summarise(m.evaluate(test, m.enc(text)))
        acc[name]["seconds"] = round(time.time() - t, 1)
        print(f"  {name:22s} {text!r:34s} {acc[name]}", flush=True)

    print("== one GReaTer step from the neutral prompt ==", flush=True)
    neutral = m.enc(PROMPTS["neutral"])
    step1 = greater_check(m, train, PROMPTS["neutral"], range(len(neutral)), [0, 1], {"manner", "process"})
    print("== second edit: from a prompt holding a manner word only ==", flush=True)
    step2 = greater_check(m, train, " the careful and think.", [0, 2, 3, 4], [0], {"process"})

    print("== a short full GReaTer run from the neutral prompt ==", flush=True)
    t = time.time()
    run_log, best = mini_run(m, train, PROMPTS["neutral"], args.run_steps)
    run = {"log": run_log, "best_prompt": m.tok.decode(best), "seconds": round(time.time() - t, 1),
           "best_test": summarise(m.evaluate(test, best))}
    print(f"  best {run['best_prompt']!r}: test accuracy {run['best_test']['accuracy']:.3f}", flush=True)

    results = {"accuracy": acc, "step1": step1, "step2": step2, "run": run,
               "train_accuracy_neutral": summarise(m.evaluate(train, neutral))["accuracy"],
               "study_seconds": round(time.time() - t0, 1)}
    with open(os.path.join(args.model, "study.json"), "w") as f:
        json.dump(results, f, indent=1)
    if not args.no_readme:
        write_readme(args.model, results)
    print(f"study done in {time.time() - t0:.0f}s", flush=True)


def write_readme(path, res):
    import readme
    with open(os.path.join(path, "training.json")) as f:
        training = json.load(f)
    with open(os.path.join(path, "README.md"), "w") as f:
        f.write(readme.render(training, res))


if __name__ == "__main__":
    main()
