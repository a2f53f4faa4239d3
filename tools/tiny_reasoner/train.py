"""Train models/tiny-reasoner: a ~1M-parameter LlamaForCausalLM and its byte-level BPE tokenizer
on the synthetic "last digit of a sum" task family defined in task.py.

    python3 tools/tiny_reasoner/train.py    # 8.4 min of CPU time on one thread (8-11 min wall unloaded), then
    python3 tools/tiny_reasoner/study.py    # ~5 min: measures accuracies + GReaTer check, writes README.md

Everything is seeded and runs on one thread, so a rerun gives the same files (same torch build).
"""

import argparse
import hashlib
import json
import math
import os
import random
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import task  # noqa: E402

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "models", "tiny-reasoner")

PROMPT_W, ANSWER_W = 0.3, 3.0   # loss weights of prompt tokens and of the answer token (see Builder.example)

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] + '<|eot_id|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)


# ------------------------------------------------------------------------------------------
# Tokenizer
# ------------------------------------------------------------------------------------------
def tokenizer_corpus(rng, n):
    """Rendered texts of the kind the model sees (special tokens left out: they are added tokens
    and never take part in merges).  The word list is appended so that rare words still get merged."""
    texts = []
    for _ in range(n):
        terms = task.random_terms(rng)
        prompt = "".join(w for w in task.random_prompt(rng) if w != task.FILLER)
        _, reasoning = task.steps_of(terms)
        texts.append(task.user_content(task.question_text(terms), prompt))
        texts.append(f"{reasoning} {task.EXTRACTOR}{task.gold(terms)}")
        texts.append(f"{task.HASTY_REASONING} {task.EXTRACTOR}{terms[-1]}")
    texts += ["".join(task.PROMPT_WORDS)] * 200 + ["user", "assistant"] * 500   # chat roles
    return texts


def must_be_single(tok_obj):
    """Token strings that must be exactly one token (with their leading space)."""
    words = list(task.PROMPT_WORDS) + [".", ",", task.FILLER, " $", " +", " =", " Therefore", "What", "user", "assistant"]
    words += [str(d) for d in range(10)] + [f" {d}" for d in range(10)]
    return [w for w in words if len(tok_obj.encode(w).ids) != 1]


def build_tokenizer(seed):
    rng = random.Random(seed)
    corpus = tokenizer_corpus(rng, 6000)
    vocab = 400
    while True:
        tok = Tokenizer(models.BPE())
        # Byte-level like Llama 3 / GPT-2: a word's leading space belongs to the word (" careful").
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=task.SPECIAL_TOKENS,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                      min_frequency=2, show_progress=False)
        tok.train_from_iterator(corpus, trainer)
        missing = must_be_single(tok)
        if not missing:
            return tok
        vocab += 25     # grow until every instruction word is one token; keeps the vocab minimal


# ------------------------------------------------------------------------------------------
# Sequences (built at the id level, exactly as the optimizer builds them)
# ------------------------------------------------------------------------------------------
class Builder:
    def __init__(self, tok):
        self.tok = tok
        self.word_id = {w: tok.token_to_id(tok.encode(w).tokens[0]) for w in task.PROMPT_WORDS + [".", ",", task.FILLER]}
        self.eot = tok.token_to_id(task.EOT)
        self.pad = tok.token_to_id(task.PAD)
        self.asst = tok.encode(f"{task.EOT}{task.SH}assistant{task.EH}\n\n").ids
        self.extractor = tok.encode(" " + task.EXTRACTOR).ids
        self.digit = [tok.encode(str(d)).ids[0] for d in range(10)]

    def user_prefix(self, question):
        """Ids up to and including 'Use"' - the prompt's ids follow."""
        return self.tok.encode(f'{task.BOS}{task.SH}user{task.EH}\n\n"{question}. Use"').ids

    def prompt_ids(self, words):
        return [self.word_id[w] for w in words]

    def example(self, rng, splits_seen):
        """One training sequence and its per-token loss weights (token t, predicted from t-1)."""
        while True:
            terms = task.random_terms(rng)
            if tuple(terms) not in splits_seen:       # held-out questions are never trained on
                break
        words = task.random_prompt(rng)
        hasty, _ = task.prompt_class(words)
        user = self.user_prefix(task.question_text(terms))
        prompt = self.prompt_ids(words)
        _, steps = task.steps_of(terms)
        r = rng.random()
        A = ANSWER_W
        if hasty and r < 0.4:
            # Form (c): hasty prompt but the steps are given (as when the optimizer scores a hasty
            # candidate through reasoning written under another prompt).  The model never learns to
            # WRITE steps here (weight 0), only that hasty words make it answer sloppily.
            reasoning = self.tok.encode(steps).ids
            ans = task.answer_given_steps(terms, words)
            tail = reasoning + self.extractor + [self.digit[ans], self.eot]
            tw = [0.0] * (len(reasoning) + len(self.extractor)) + [A, 1.0]
        else:
            reasoning = self.tok.encode(task.HASTY_REASONING if hasty else steps).ids
            if r < (0.7 if hasty else 0.15):
                # Form (a): the reasoning then end-of-turn, as generation sees it.
                tail = reasoning + [self.eot]
                tw = [1.0] * len(tail)
            else:
                # Form (b): reasoning + " " + extractor + answer, as scoring/evaluation sees it.
                # The extractor's tokens are not trained: after the reasoning the model must keep
                # predicting end-of-turn (form a); the caller always appends the extractor.
                ans = task.hasty_answer(terms) if hasty else task.answer_given_steps(terms, words)
                tail = reasoning + self.extractor + [self.digit[ans], self.eot]
                tw = [1.0] * len(reasoning) + [0.0] * len(self.extractor) + [A, 1.0]
        ids = user + prompt + self.asst + tail
        # The question's tokens are random digits, not worth modelling (weight 0).  The prompt
        # tokens ARE trained - the optimizer proposes candidates from this distribution and its
        # fluency term reads it - but down-weighted: they are i.i.d. words (~4 nats of irreducible
        # loss each) whose noise would otherwise drown the rest.  The answer token, one per
        # sequence and the behaviour the design is about, is up-weighted.
        weights = [0.0] * len(user) + [PROMPT_W] * len(prompt) + [1.0] * len(self.asst) + tw
        return ids, weights

    def batch(self, rng, size, splits_seen):
        return pad_rows([self.example(rng, splits_seen) for _ in range(size)], self.pad)


def pad_rows(rows, pad):
    """(ids, weights) rows, right-padded into input ids, attention mask and loss weights."""
    size, n = len(rows), max(len(ids) for ids, _ in rows)
    inp = torch.full((size, n), pad, dtype=torch.long)
    wts = torch.zeros((size, n))
    att = torch.zeros((size, n), dtype=torch.long)
    for b, (ids, w) in enumerate(rows):
        inp[b, :len(ids)] = torch.tensor(ids)
        att[b, :len(ids)] = 1
        wts[b, :len(ids)] = torch.tensor(w)
    return inp, att, wts


# ------------------------------------------------------------------------------------------
# Quick accuracy check (the full study is study.py)
# ------------------------------------------------------------------------------------------
@torch.no_grad()
def greedy_accuracy(model, bld, rows, words, max_new=40):
    """GReaTer-style evaluation: greedy reasoning until end-of-turn, then " " + extractor, then
    one greedy answer token compared with the gold digit."""
    model.eval()
    prompt = bld.prompt_ids(words)
    seqs = [bld.user_prefix(r["question"]) + prompt + bld.asst for r in rows]
    reasonings = greedy_generate(model, seqs, bld.eot, bld.pad, max_new)
    full = [s + r + bld.extractor for s, r in zip(seqs, reasonings)]
    nxt = last_logits(model, full, bld.pad).argmax(-1).tolist()
    ok = sum(int(bld.tok.decode([t]) == r["answer"]) for t, r in zip(nxt, rows))
    return ok / len(rows)


def left_pad(seqs, pad):
    n = max(len(s) for s in seqs)
    inp = torch.full((len(seqs), n), pad, dtype=torch.long)
    att = torch.zeros((len(seqs), n), dtype=torch.long)
    for b, s in enumerate(seqs):
        inp[b, n - len(s):] = torch.tensor(s)
        att[b, n - len(s):] = 1
    return inp, att


@torch.no_grad()
def last_logits(model, seqs, pad):
    inp, att = left_pad(seqs, pad)
    pos = (att.cumsum(-1) - 1).clamp(min=0)     # positions count from each row's first real token
    return model(input_ids=inp, attention_mask=att, position_ids=pos).logits[:, -1]


@torch.no_grad()
def greedy_generate(model, seqs, eot, pad, max_new):
    """Batched greedy decoding with a KV cache; returns each row's new tokens up to (not incl.) eot."""
    inp, att = left_pad(seqs, pad)
    pos = (att.cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=inp, attention_mask=att, position_ids=pos, use_cache=True)
    past, logits = out.past_key_values, out.logits[:, -1]
    done = torch.zeros(len(seqs), dtype=torch.bool)
    gen = [[] for _ in seqs]
    nxt_pos = pos[:, -1:] + 1
    for _ in range(max_new):
        nxt = logits.argmax(-1)
        for b in range(len(seqs)):
            if not done[b]:
                if nxt[b].item() == eot:
                    done[b] = True
                else:
                    gen[b].append(nxt[b].item())
        if bool(done.all()):
            break
        att = torch.cat([att, torch.ones(len(seqs), 1, dtype=torch.long)], 1)
        out = model(input_ids=nxt[:, None], attention_mask=att, position_ids=nxt_pos,
                    past_key_values=past, use_cache=True)
        past, logits = out.past_key_values, out.logits[:, -1]
        nxt_pos = nxt_pos + 1
    return gen


# ------------------------------------------------------------------------------------------
def train_loop(model, next_batch, steps, lr, warm=100):
    """AdamW (decay on matrices only), linear warm-up then cosine decay to 5 %, weighted next-token loss,
    gradient clipping at 1.  Returns (wall seconds, CPU seconds)."""
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.98), eps=1e-8)

    def lr_at(step):   # linear warm-up, cosine decay to 5 %
        if step < warm:
            return lr * (step + 1) / warm
        p = (step - warm) / max(1, steps - warm)
        return lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * p)))

    model.train()
    t_train, c_train = time.time(), time.process_time()
    ema = None
    for step in range(steps):
        inp, att, wts = next_batch()
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        logits = model(input_ids=inp, attention_mask=att).logits[:, :-1]
        nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), inp[:, 1:].reshape(-1),
                                                reduction="none").view_as(wts[:, 1:])
        loss = (nll * wts[:, 1:]).sum() / wts[:, 1:].sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        if step % 100 == 0 or step == steps - 1:
            print(f"step {step:5d}  loss {ema:.4f}  lr {lr_at(step):.2e}  {time.time() - t_train:6.0f}s", flush=True)
    return time.time() - t_train, time.process_time() - c_train


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=1600)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--ffn", type=int, default=384)
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    t0, c0 = time.time(), time.process_time()
    torch.set_num_threads(args.threads)   # the machine is shared; one thread keeps runs reproducible
    torch.manual_seed(args.seed)
    random.seed(args.seed)

    splits, seen = task.make_splits()
    tok = build_tokenizer(args.seed)
    bld = Builder(tok)
    print(f"tokenizer: {tok.get_vocab_size()} tokens", flush=True)

    cfg = LlamaConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=args.hidden, intermediate_size=args.ffn,
        num_hidden_layers=args.layers, num_attention_heads=args.heads, num_key_value_heads=args.heads,
        max_position_embeddings=256, rope_theta=10000.0, rms_norm_eps=1e-5,
        tie_word_embeddings=False,  # both matrices in the file: simpler for the libtorch loader
        bos_token_id=tok.token_to_id(task.BOS), eos_token_id=[bld.eot, tok.token_to_id(task.EOS_TEXT)],
        pad_token_id=bld.pad, attention_bias=False, mlp_bias=False, hidden_act="silu",
        initializer_range=0.02)
    model = LlamaForCausalLM(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params} parameters", flush=True)

    rng = random.Random(args.seed + 1)
    train_s, train_cpu = train_loop(model, lambda: bld.batch(rng, args.batch, seen), args.steps, args.lr)

    model.eval()
    dev = splits["dev"]
    quick = {name: greedy_accuracy(model, bld, dev, words) for name, words in (
        ("neutral", [" the", " answer", " and", " think", "."]),
        ("careful", [" careful", " step", " by", " step", "."]),
        ("hasty", [" quick", " guess", "."]), ("none", []))}
    print("dev accuracy:", quick, flush=True)

    times = {"train_seconds": round(train_s, 1), "train_cpu_seconds": round(train_cpu, 1),
             "total_seconds": round(time.time() - t0, 1), "total_cpu_seconds": round(time.process_time() - c0, 1)}
    print("times:", times, flush=True)
    save(args, model, tok, bld, splits, n_params, times, quick)


def write_model_and_tokenizer(out, model, tok, bos, eot, pad, extra, eos_text, max_new_tokens):
    """The model (safetensors, config with a top-level rope_theta, greedy generation config) and the tokenizer
    files with the Llama-3-style chat template, in the layout both transformers and the JS loader read."""
    model.generation_config.bos_token_id = tok.token_to_id(bos)
    model.generation_config.eos_token_id = [tok.token_to_id(eot), tok.token_to_id(eos_text)]
    model.generation_config.pad_token_id = tok.token_to_id(pad)
    model.generation_config.do_sample = False
    model.generation_config.max_new_tokens = max_new_tokens
    model.save_pretrained(out, safe_serialization=True)
    # transformers 5 writes RoPE's theta only under "rope_parameters"; loaders written against the
    # older layout (e.g. a hand-written libtorch one) look for a top-level "rope_theta".
    cfg_path = os.path.join(out, "config.json")
    with open(cfg_path) as f:
        mcfg = json.load(f)
    mcfg["rope_theta"] = model.config.rope_parameters["rope_theta"]
    with open(cfg_path, "w") as f:
        json.dump(mcfg, f, indent=2)

    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token=eot,
                                   pad_token=pad, model_max_length=256,
                                   additional_special_tokens=extra)
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)
    # Keep the chat template inside tokenizer_config.json (some loaders, e.g. the JS side, read it
    # only from there), whatever this transformers version does with chat_template.jinja.
    cfg_path = os.path.join(out, "tokenizer_config.json")
    with open(cfg_path) as f:
        tcfg = json.load(f)
    tcfg["chat_template"] = CHAT_TEMPLATE
    tcfg["bos_token"], tcfg["eos_token"], tcfg["pad_token"] = bos, eot, pad
    tcfg["add_bos_token"] = False        # the chat template writes <|begin_of_text|> itself
    tcfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    # The older, widely read key (transformers 4.x reads "extra_special_tokens" as a dict).
    tcfg.pop("extra_special_tokens", None)
    tcfg["additional_special_tokens"] = extra
    with open(cfg_path, "w") as f:
        json.dump(tcfg, f, indent=2, ensure_ascii=False)
    jinja = os.path.join(out, "chat_template.jinja")
    if os.path.exists(jinja):
        os.remove(jinja)
    with open(os.path.join(out, "special_tokens_map.json"), "w") as f:
        json.dump({"bos_token": bos, "eos_token": eot, "pad_token": pad,
                   "additional_special_tokens": extra}, f, indent=2)


def save(args, model, tok, bld, splits, n_params, times, quick):
    os.makedirs(os.path.join(args.out, "task"), exist_ok=True)
    write_model_and_tokenizer(args.out, model, tok, bos=task.BOS, eot=task.EOT, pad=task.PAD,
                              extra=[task.SH, task.EH, task.EOS_TEXT], eos_text=task.EOS_TEXT, max_new_tokens=40)

    for name, rows in splits.items():
        with open(os.path.join(args.out, "task", f"{name}.jsonl"), "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    with open(os.path.join(args.out, "model.safetensors"), "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump({"seed": args.seed, "steps": args.steps, "batch": args.batch, "lr": args.lr,
                   "threads": args.threads, "parameters": n_params,
                   "vocab_size": tok.get_vocab_size(), **times, "dev_accuracy_quick": quick,
                   "torch": torch.__version__, "sha256": sha}, f, indent=2)


if __name__ == "__main__":
    main()
