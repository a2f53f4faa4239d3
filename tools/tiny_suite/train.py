"""Train one of the suite's models (models/suite-llama or models/suite-qwen2) on the five task families of
suite.py, with the suite's shared byte-level BPE tokenizer, and write the suite's BBH-format task files.

    python3 tools/tiny_suite/train.py --arch llama    # models/suite-llama
    python3 tools/tiny_suite/train.py --arch qwen2    # models/suite-qwen2 (same tokenizer, same data)
    python3 tools/tiny_suite/study.py                 # measures every prompt word, writes the READMEs

The tokenizer and the splits depend only on --data-seed, so both models share them (checked by
study.py).  Everything is seeded (weights, example order, tokenizer, splits).  The defaults are the shipped
models' settings (llama: 3400 steps on 1 thread; qwen2: 4200 steps on 2 threads).
"""

import argparse
import hashlib
import json
import os
import random
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import suite  # noqa: E402
import importlib.util  # noqa: E402

# tiny_reasoner's batched greedy decoding (its module is also called train, hence the explicit load).
_spec = importlib.util.spec_from_file_location("tiny_reasoner_train", os.path.join(HERE, "..", "tiny_reasoner", "train.py"))
_tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_tiny)
greedy_generate, last_logits = _tiny.greedy_generate, _tiny.last_logits

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402
from transformers import (LlamaConfig, LlamaForCausalLM,  # noqa: E402
                          Qwen2Config, Qwen2ForCausalLM)

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
SUITE_DIR = os.path.join(REPO, "bench", "suite")

PROMPT_W, ANSWER_W = 0.3, 3.0



# ------------------------------------------------------------------------------------------
# Tokenizer (shared: depends only on the data seed)
# ------------------------------------------------------------------------------------------
def must_be_single(tok):
    words = list(suite.PROMPT_WORDS) + [".", ",", suite.FILLER, " $", " +", " =", " <", "What", "user", "assistant",
                                       " True", " False", "True", "False", " and", " or", " xor", " not"]
    words += [str(d) for d in range(10)] + [f" {d}" for d in range(10)]
    words += [f" {x}" for x in suite.FRUITS + suite.ANIMALS] + [f" {x}" for x in suite.LETTERS] + suite.LETTERS
    return [w for w in words if len(tok.encode(w).ids) != 1]


def tokenizer_corpus(rng, per_family):
    texts = []
    for family in suite.FAMILIES:
        for _ in range(per_family):
            q, steps, results, guess = suite.sample(rng, family, rng.randint(suite.MIN_STEPS, suite.MAX_STEPS))
            prompt = "".join(w for w in suite.random_prompt(rng, family) if w != suite.FILLER)
            texts.append(suite.user_content(q, prompt))
            texts.append(" ".join(steps) + f" {suite.EXTRACTOR}{results[-1]}")
            texts.append(f"{suite.HASTY_REASONING} {suite.EXTRACTOR}{guess}")
    texts += ["".join(suite.PROMPT_WORDS)] * 200 + ["user", "assistant"] * 500
    return texts


def build_tokenizer(seed):
    corpus = tokenizer_corpus(random.Random(seed), 1500)
    vocab = 600
    while True:
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=suite.SPECIAL_TOKENS,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                      min_frequency=2, show_progress=False)
        tok.train_from_iterator(corpus, trainer)
        if not must_be_single(tok):
            return tok
        vocab += 25


# ------------------------------------------------------------------------------------------
# Sequences (built at the id level, exactly as the optimizer builds them)
# ------------------------------------------------------------------------------------------
class Builder:
    def __init__(self, tok):
        self.tok = tok
        self.word_id = {w: tok.encode(w).ids[0] for w in suite.PROMPT_WORDS + [".", ",", suite.FILLER]}
        self.eot = tok.token_to_id(suite.EOT)
        self.pad = tok.token_to_id(suite.PAD)
        self.asst = tok.encode(f"{suite.EOT}{suite.SH}assistant{suite.EH}\n\n").ids
        self.extractor = tok.encode(" " + suite.EXTRACTOR).ids

    def user_prefix(self, question):
        return self.tok.encode(f'{suite.BOS}{suite.SH}user{suite.EH}\n\n"{question}. Use"').ids

    def prompt_ids(self, words):
        return [self.word_id[w] for w in words]

    def answer_id(self, text):
        ids = self.tok.encode(text).ids
        assert len(ids) == 1, text
        return ids[0]

    def example(self, rng, seen):
        family = rng.choice(suite.FAMILIES)
        while True:
            q, steps, results, guess = suite.sample(rng, family, rng.randint(suite.MIN_STEPS, suite.MAX_STEPS))
            if q not in seen:                    # held-out questions are never trained on
                break
        words = suite.random_prompt(rng, family)
        hasty = any(w in suite.HASTY for w in words)
        user = self.user_prefix(q)
        prompt = self.prompt_ids(words)
        written = " ".join(steps)
        r = rng.random()
        A = ANSWER_W
        if hasty and r < 0.4:
            # Hasty prompt, steps given (as when a hasty candidate is scored through other reasoning):
            # only the answer is trained: sloppy.
            reasoning = self.tok.encode(written).ids
            ans = suite.answer_given_steps(family, results, words)
            tail = reasoning + self.extractor + [self.answer_id(ans), self.eot]
            tw = [0.0] * (len(reasoning) + len(self.extractor)) + [A, 1.0]
        else:
            reasoning = self.tok.encode(suite.HASTY_REASONING if hasty else written).ids
            if r < (0.7 if hasty else 0.15):
                tail = reasoning + [self.eot]
                tw = [1.0] * len(tail)
            else:
                ans = guess if hasty else suite.answer_given_steps(family, results, words)
                tail = reasoning + self.extractor + [self.answer_id(ans), self.eot]
                tw = [1.0] * len(reasoning) + [0.0] * len(self.extractor) + [A, 1.0]
        ids = user + prompt + self.asst + tail
        weights = [0.0] * len(user) + [PROMPT_W] * len(prompt) + [1.0] * len(self.asst) + tw
        return ids, weights

    def batch(self, rng, size, seen):
        return _tiny.pad_rows([self.example(rng, seen) for _ in range(size)], self.pad)


@torch.no_grad()
def accuracy(model, bld, rows, words):
    """GReaTer-style evaluation: greedy reasoning until end-of-turn, " " + extractor, greedy answer token."""
    model.eval()
    prompt = bld.prompt_ids(words)
    seqs = [bld.user_prefix(r["input"]) + prompt + bld.asst for r in rows]
    reasonings = greedy_generate(model, seqs, bld.eot, bld.pad, suite.MAX_NEW_TOKENS)
    full = [s + g + bld.extractor for s, g in zip(seqs, reasonings)]
    nxt = last_logits(model, full, bld.pad).argmax(-1).tolist()
    return sum(int(bld.tok.decode([t]) == r["target"]) for t, r in zip(nxt, rows)) / len(rows)


def make_model(arch, tok, bld, args):
    common = dict(vocab_size=tok.get_vocab_size(), hidden_size=args.hidden, intermediate_size=args.ffn,
                  num_hidden_layers=args.layers, num_attention_heads=args.heads, num_key_value_heads=args.heads,
                  max_position_embeddings=256, rope_theta=10000.0, rms_norm_eps=1e-5, tie_word_embeddings=False,
                  bos_token_id=tok.token_to_id(suite.BOS), eos_token_id=[bld.eot, tok.token_to_id(suite.EOS_TEXT)],
                  pad_token_id=bld.pad, hidden_act="silu", initializer_range=0.02)
    if arch == "llama":
        return LlamaForCausalLM(LlamaConfig(**common, attention_bias=False, mlp_bias=False))
    return Qwen2ForCausalLM(Qwen2Config(**common, use_sliding_window=False))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", choices=["llama", "qwen2"], required=True)
    ap.add_argument("--seed", type=int, default=None, help="weights and example order (default: 0 llama, 1 qwen2)")
    ap.add_argument("--data-seed", type=int, default=2025, help="tokenizer and held-out splits (shared)")
    ap.add_argument("--steps", type=int, default=None, help="default: 3400 llama, 4200 qwen2 (the shipped models)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--ffn", type=int, default=384)
    ap.add_argument("--out", default=None)
    ap.add_argument("--threads", type=int, default=None, help="default: 1 llama, 2 qwen2 (the shipped models)")
    args = ap.parse_args()
    # The shipped Qwen2 lagged the Llama by ~400 steps in a 3400-step run; it was retrained alone, on both
    # cores, for 4200 steps (17.5 min of wall time).
    seed = args.seed if args.seed is not None else {"llama": 0, "qwen2": 1}[args.arch]
    args.steps = args.steps if args.steps is not None else {"llama": 3400, "qwen2": 4200}[args.arch]
    args.threads = args.threads if args.threads is not None else {"llama": 1, "qwen2": 2}[args.arch]
    out = args.out or os.path.join(REPO, "models", f"suite-{args.arch}")

    t0, c0 = time.time(), time.process_time()
    torch.set_num_threads(args.threads)
    torch.manual_seed(seed)

    splits = {}
    seen = set()
    for family in suite.FAMILIES:
        splits[family], family_seen = suite.make_splits(family, args.data_seed)
        seen |= family_seen
    tok = build_tokenizer(args.data_seed)
    bld = Builder(tok)
    print(f"tokenizer: {tok.get_vocab_size()} tokens", flush=True)

    model = make_model(args.arch, tok, bld, args)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{args.arch}: {n_params} parameters", flush=True)

    rng = random.Random(seed + 1)
    train_s, train_cpu = _tiny.train_loop(model, lambda: bld.batch(rng, args.batch, seen), args.steps, args.lr)

    quick = {}
    for family in suite.FAMILIES:
        dev = splits[family]["dev"]
        quick[family] = {name: round(accuracy(model, bld, dev, words), 3) for name, words in (
            ("neutral", [" the", " answer", " and", " think", "."]),
            ("good", [suite.MANNER[family], suite.PROCESS[family], " and", " think", "."]),
            ("hasty", [" quick", " and", " think", "."]))}
        print(family, quick[family], flush=True)
    times = {"train_seconds": round(train_s, 1), "train_cpu_seconds": round(train_cpu, 1),
             "total_seconds": round(time.time() - t0, 1), "total_cpu_seconds": round(time.process_time() - c0, 1)}
    print("times:", times, flush=True)
    save(args, seed, out, model, tok, bld, splits, n_params, times, quick)


def save(args, seed, out, model, tok, bld, splits, n_params, times, quick):
    os.makedirs(out, exist_ok=True)
    _tiny.write_model_and_tokenizer(out, model, tok, bos=suite.BOS, eot=suite.EOT, pad=suite.PAD,
                                    extra=[suite.SH, suite.EH, suite.EOS_TEXT], eos_text=suite.EOS_TEXT,
                                    max_new_tokens=suite.MAX_NEW_TOKENS)

    write_suite(splits, args.data_seed)
    with open(os.path.join(out, "model.safetensors"), "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    with open(os.path.join(out, "training.json"), "w") as f:
        json.dump({"arch": args.arch, "seed": seed, "data_seed": args.data_seed, "steps": args.steps,
                   "batch": args.batch, "lr": args.lr, "hidden": args.hidden, "layers": args.layers,
                   "heads": args.heads, "ffn": args.ffn, "threads": args.threads, "parameters": n_params,
                   "vocab_size": tok.get_vocab_size(), **times, "dev_accuracy_quick": quick,
                   "torch": torch.__version__, "sha256": sha}, f, indent=2)


def write_suite(splits, data_seed):
    """bench/suite/<family>/{train,dev,test}.json in BIG-Bench Hard's JSON format, and suite.json."""
    for family, parts in splits.items():
        os.makedirs(os.path.join(SUITE_DIR, family), exist_ok=True)
        for name, rows in parts.items():
            with open(os.path.join(SUITE_DIR, family, f"{name}.json"), "w") as f:
                json.dump({"examples": rows}, f, indent=1)
                f.write("\n")
    meta = {
        "dataSeed": data_seed,
        "extractor": suite.EXTRACTOR,
        "initialPrompt": suite.INITIAL_PROMPT,
        "maxNewTokens": suite.MAX_NEW_TOKENS,
        "families": {f: {"process": suite.PROCESS[f], "manner": suite.MANNER[f]} for f in suite.FAMILIES},
        "hasty": suite.HASTY,
    }
    with open(os.path.join(SUITE_DIR, "suite.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
