"""One GReaTer step, written independently of the project the way the authors' code does it with transformers.

The project's optimizer (ts/optimizer/) must produce the same step from the same model folder, examples and seed:
the same candidate set, the same ranking and the same chosen token. This script is that check's other half, and a
speed baseline: it works like psunlpgroup/GreaTer (llm_opt/gcg/greater_opt.py, llm_opt/base/attack_manager.py):
  0. reasoning refresh     model.generate, greedy, in batches of 9 left-padded prompts
  1. candidate proposal    a forward pass per example; log-softmax at prompt position i (logits at i-1); mask the
                           disallowed tokens and the token at i-1 (Python's index -1 at i = 0); top-k per example;
                           topQ intersections of 5 randomly drawn examples' top-k sets, unioned; fewer than 6 -> k+2
  2. gradient              ONE forward/backward PER EXAMPLE: the embedding at i is one_hot @ E[candidates];
                           loss = CE(answer logits / tau, answer) + lambda * mean prompt NLL; gradients summed
  3. ranking               the 3 most negative summed gradient entries
  4. selection             per candidate (ranked order): model.generate in batches of 9, then a second full forward
                           over prompt + reasoning + extractor + answer (batches of 9); mistake = any answer arg-max
                           wrong; score = mean mistake + (lambda/10) * mean prompt NLL; `<=` keeps the later of ties;
                           a "." candidate at i >= 0.5 * initial length is taken at once
The random draws use mulberry32 (tools/reference/mulberry32.py), which ts/optimizer/prng.ts implements identically.

Two points follow the project rather than the authors' code, because the comparison needs the same token ids:
  * sequences are laid out as ts/text/layout.ts does (the chat template rendered and tokenized as one text; the
    reasoning kept as generated ids; " " + extractor + answer tokenized after the reasoning's last 32 tokens), and
  * a candidate is dropped when the prompt with it in place does not come back as the same ids from the user turn
    (the project edits ids; the authors' code keeps the prompt as text between steps).

Usage:
  python3 tools/reference/greater_step.py --model DIR --data FILE --seed N --out out.json
DATA is JSON lines {"question", "answer"[, "id"]} (ids default to "<file name>:<line>"), or a JSON object
{"extractor"?, "initialPrompt"?, "train": [...]}. Options override the defaults of ts/optimizer/config.ts.
"""

import argparse
import json
import os
import re
import sys
import time

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mulberry32 import Mulberry32  # noqa: E402

GENERATION_BATCH = 9          # the authors' generation_batch_size and logits_batch_size
TAIL_CONTEXT_TOKENS = 32      # ts/text/layout.ts: the reasoning tokens the tail is tokenized after
STRICT_SINGLE = {".", ",", " "}
LETTERS_AND_SPACES = re.compile(r"^[A-Za-z ]+$")
LETTERS_SPACES_PUNCT = re.compile(r"^[A-Za-z !\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]+$")
PRINTABLE_ASCII = re.compile(r"^[\x20-\x7e]+$")


# ----------------------------------------------------------------------------------------------------------------
# Text: the tokenizer, the user turn and the example layout (mirroring ts/text)

class Text:
    def __init__(self, model_dir, template):
        self.tok = AutoTokenizer.from_pretrained(model_dir)
        self.template = template
        marker = "GREATERUSERMESSAGEMARKER"
        framed = self.render(marker)
        at = framed.index(marker)
        self.head, self.tail = framed[:at], framed[at + len(marker):]

    def encode(self, text):
        return self.tok(text, add_special_tokens=False).input_ids

    def decode(self, ids):
        if not ids:
            return ""
        return self.tok.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def render(self, content):
        return self.tok.apply_chat_template([{"role": "user", "content": content}], tokenize=False,
                                            add_generation_prompt=True)

    def pieces(self, question):
        if self.template == "authors":
            return '"' + question + '. Use"', ""
        if self.template == "plain":
            return question, ""
        return "", "\n" + question

    def encode_prompt(self, text):
        if self.template == "prompt-first":
            return self.encode(text.lstrip())
        return self.encode(text if text[:1].isspace() else " " + text)

    def boundary(self, text, ids, position):
        """Tokens wholly before character `position` (ts/text/token-boundary.ts), and whether one straddles it."""
        if position <= 0:
            return 0, False
        if position >= len(text):
            return len(ids), False
        before = self.encode(text[:position])
        common = 0
        while common < min(len(before), len(ids)) and before[common] == ids[common]:
            common += 1
        if common == len(before):
            return common, False
        length = lambda n: len(self.decode(ids[:n]))
        index = max(0, common - 1)
        while index > 0 and length(index) > position:
            index -= 1
        while index < len(ids) and length(index + 1) <= position:
            index += 1
        straddles = length(index) != position or self.decode(ids[:index]) != text[:position]
        return index, straddles

    def prefix(self, question, prompt):
        """chat(user: question + prompt) with the assistant header: (ids, prompt span)."""
        before, after = self.pieces(question)
        prompt_text = self.decode(prompt)
        content = before + prompt_text + after
        rendered = self.render(content)
        shown = rendered[len(self.head):len(rendered) - len(self.tail)]
        offset = 0 if shown == content else content.index(shown)
        start, end = len(self.head), len(self.head) + len(shown)
        at = lambda i: min(end, max(start, start + i - offset))
        ids = self.encode(rendered)
        if self.template == "prompt-first":
            p0, p1 = at(0), at(len(prompt_text))
        else:
            p0, p1 = at(len(before)), at(len(content))
        return ids, (self.boundary(rendered, ids, p0)[0], self.boundary(rendered, ids, p1)[0])

    def full(self, question, prompt, reasoning, extractor, answer):
        """prefix + reasoning + " " + extractor + answer: (ids, prompt span, answer span)."""
        ids, prompt_span = self.prefix(question, prompt)
        base = len(ids) + len(reasoning)
        context = self.decode(reasoning[-TAIL_CONTEXT_TOKENS:]) if reasoning else self.render(
            self.pieces(question)[0] + self.decode(prompt) + self.pieces(question)[1])
        extractor_text = " " + extractor
        whole = context + extractor_text + answer
        whole_ids = self.encode(whole)
        start, straddles = self.boundary(whole, whole_ids, len(context))
        if not straddles:
            tail = whole_ids[start:]
            answer_start = self.boundary(whole, whole_ids, len(context) + len(extractor_text))[0] - start
        else:
            tail = self.encode(extractor_text + answer)
            answer_start = self.boundary(extractor_text + answer, tail, len(extractor_text))[0]
        full_ids = ids + list(reasoning) + tail
        return full_ids, prompt_span, (base + answer_start, len(full_ids))

    def places_verbatim(self, question, prompt):
        ids, (s, e) = self.prefix(question, prompt)
        return ids[s:e] == list(prompt)

    def canonical_prompt(self, question, prompt):
        if self.places_verbatim(question, prompt):
            return list(prompt)
        ids, (s, e) = self.prefix(question, prompt)
        return ids[s:e]

    def disallowed(self, vocab_size, rule):
        never = set(self.tok.all_special_ids) | set(self.tok.added_tokens_decoder.keys())
        for name in ("bos_token_id", "eos_token_id", "pad_token_id", "unk_token_id"):
            if getattr(self.tok, name) is not None:
                never.add(getattr(self.tok, name))
        mask = [1] * vocab_size
        for i in range(min(vocab_size, len(self.tok))):
            if i in never:
                continue
            text = self.decode([i])
            if rule == "strict":
                ok = text in STRICT_SINGLE or bool(LETTERS_AND_SPACES.match(text))
            elif rule == "punctuation":
                ok = bool(LETTERS_SPACES_PUNCT.match(text))
            else:
                ok = bool(PRINTABLE_ASCII.match(text))
            mask[i] = 0 if ok else 1
        return torch.tensor(mask, dtype=torch.bool)

    def stop_ids(self, model_dir, model):
        ids = set()
        eos = model.generation_config.eos_token_id
        ids.update(eos if isinstance(eos, list) else ([] if eos is None else [eos]))
        if self.tok.eos_token_id is not None:
            ids.add(self.tok.eos_token_id)
        rendered = self.tok.apply_chat_template(
            [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "GREATERENDOFTURNMARKER"}], tokenize=False)
        after = rendered[rendered.rindex("GREATERENDOFTURNMARKER") + len("GREATERENDOFTURNMARKER"):].lstrip()
        best = None
        for token, i in self.tok.get_vocab().items():
            if i in self.tok.all_special_ids and token and after.startswith(token) and (best is None or len(token) > len(best[0])):
                best = (token, i)
        if best is not None:
            ids.add(best[1])
        return sorted(ids)


# ----------------------------------------------------------------------------------------------------------------
# The model calls, as the authors' code makes them

@torch.no_grad()
def generate_reasoning(model, text, prefixes, max_new_tokens, stop_ids):
    """Greedy reasoning for every prefix, model.generate in left-padded batches of 9; cut at the first stop id."""
    pad = text.tok.pad_token_id if text.tok.pad_token_id is not None else stop_ids[0]
    out = []
    for b in range(0, len(prefixes), GENERATION_BATCH):
        batch = prefixes[b:b + GENERATION_BATCH]
        width = max(len(p) for p in batch)
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in batch])
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in batch])
        gen = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=False,
                             eos_token_id=stop_ids, pad_token_id=pad)
        for row in gen[:, width:].tolist():
            cut = next((j for j, t in enumerate(row) if t in stop_ids), len(row))
            out.append(row[:cut])
    return out


@torch.no_grad()
def log_probs_at(model, ids, index):
    """log_softmax of the logits at `index` of one sequence (a forward pass per example, as the code does)."""
    logits = model(input_ids=torch.tensor([ids])).logits[0, index]
    return F.log_softmax(logits.float(), dim=-1)


def one_hot_gradient(model, ids, position, candidates, answer_span, prompt_span, temperature, control_weight):
    """token_gradients of the authors' code for ONE example: dL/d(one-hot) over the candidates."""
    embed = model.get_input_embeddings().weight
    cand = torch.tensor(candidates)
    one_hot = torch.zeros(1, len(candidates), dtype=embed.dtype)
    one_hot[0, candidates.index(ids[position])] = 1.0
    one_hot.requires_grad_()
    input_ids = torch.tensor(ids)
    embeds = model.get_input_embeddings()(input_ids.unsqueeze(0)).detach()
    full = torch.cat([embeds[:, :position], (one_hot @ embed[cand]).unsqueeze(0), embeds[:, position + 1:]], dim=1)
    logits = model(inputs_embeds=full).logits[0].float()
    a0, a1 = answer_span
    focused = F.cross_entropy(logits[a0 - 1:a1 - 1] / temperature, input_ids[a0:a1])
    p0, p1 = prompt_span
    control = -F.log_softmax(logits[p0 - 1:p1 - 1], dim=-1)[torch.arange(p1 - p0), input_ids[p0:p1]]
    loss = focused + control_weight * control.mean()
    loss.backward()
    return one_hot.grad[0].clone(), loss.item()


@torch.no_grad()
def score_rows(model, rows, pad):
    """The selection's second full forward, in left-padded batches of 9: (exact match, prompt NLL) per row."""
    out = []
    for b in range(0, len(rows), GENERATION_BATCH):
        batch = rows[b:b + GENERATION_BATCH]
        width = max(len(ids) for ids, _, _ in batch)
        ids = torch.tensor([[pad] * (width - len(r[0])) + r[0] for r in batch])
        mask = torch.tensor([[0] * (width - len(r[0])) + [1] * len(r[0]) for r in batch])
        logits = model(input_ids=ids, attention_mask=mask).logits.float()
        for j, (seq, (p0, p1), (a0, a1)) in enumerate(batch):
            shift = width - len(seq)
            row = logits[j, shift:]
            seq_t = torch.tensor(seq)
            exact = bool((row[a0 - 1:a1 - 1].argmax(-1) == seq_t[a0:a1]).all())
            nll = -F.log_softmax(row[p0 - 1:p1 - 1], dim=-1)[torch.arange(p1 - p0), seq_t[p0:p1]].mean().item()
            out.append((exact, nll))
    return out


# ----------------------------------------------------------------------------------------------------------------
# One step

def union_of_intersections(top_sets, top_q, per_intersection, rng):
    drawn = min(per_intersection, len(top_sets))
    union = set()
    for _ in range(top_q):
        first, *rest = rng.sample_without_replacement(len(top_sets), drawn)
        inter = set(top_sets[first])
        for e in rest:
            inter &= set(top_sets[e])
        union |= inter
    return sorted(union)


def greater_step(model, text, train, extractor, prompt, position, initial_length, rng, cfg, stop_ids, log):
    timings = {}
    clock = time.perf_counter()
    disallowed = text.disallowed(model.config.vocab_size, cfg["candidateFilter"])

    # 0. reasoning refresh
    prefixes = [text.prefix(ex["question"], prompt) for ex in train]
    reasoning = generate_reasoning(model, text, [p[0] for p in prefixes], cfg["maxNewTokens"], stop_ids) \
        if cfg["reasoning"] else [[] for _ in train]
    timings["refresh"] = (time.perf_counter() - clock) * 1000
    log(f"refresh: {timings['refresh']:.0f} ms")

    # 1. candidate proposal
    clock = time.perf_counter()
    previous = prompt[position - 1]          # Python's index -1 at position 0: the prompt's last token
    fetch = max(cfg["topK"], cfg["topK"] + 4 * cfg["kIncrement"])
    ranked_lists = []
    for ids, (p0, _) in prefixes:
        lp = log_probs_at(model, ids, p0 + position - 1)
        lp[disallowed] = -float("inf")
        lp[previous] = -float("inf")
        allowed = int(torch.isfinite(lp).sum())
        ranked_lists.append(lp.topk(min(fetch, allowed)).indices.tolist())
    verdicts = {}

    def keep(token):
        if token not in verdicts:
            cand_prompt = list(prompt)
            cand_prompt[position] = token
            verdicts[token] = text.places_verbatim(train[0]["question"], cand_prompt)
        return verdicts[token]

    k, raises = cfg["topK"], 0
    while True:
        if k > fetch:   # fetch deeper lists, as the project does (a larger k only extends the sorted lists)
            fetch = max(k, fetch * 2)
            ranked_lists = []
            for ids, (p0, _) in prefixes:
                lp = log_probs_at(model, ids, p0 + position - 1)
                lp[disallowed] = -float("inf")
                lp[previous] = -float("inf")
                ranked_lists.append(lp.topk(min(fetch, int(torch.isfinite(lp).sum()))).indices.tolist())
        top_sets = [lst[:k] for lst in ranked_lists]
        union = [t for t in union_of_intersections(top_sets, cfg["topQ"], cfg["examplesPerIntersection"], rng) if keep(t)]
        if len(union) >= cfg["minCandidates"] or all(len(s) < k for s in top_sets):
            break
        k += cfg["kIncrement"]
        raises += 1
    candidates = union if prompt[position] in union else union + [prompt[position]]
    timings["proposal"] = (time.perf_counter() - clock) * 1000
    log(f"proposal: k={k} raises={raises} candidates={candidates}")

    # 2. gradient over reasoning, one forward/backward per example
    clock = time.perf_counter()
    gradients, losses = None, []
    if cfg["ranking"] == "gradient":
        summed = torch.zeros(len(candidates), dtype=torch.float64)
        for ex, r in zip(train, reasoning):
            ids, pspan, aspan = text.full(ex["question"], prompt, r, extractor, ex["answer"])
            grad, loss = one_hot_gradient(model, ids, pspan[0] + position, candidates, aspan, pspan,
                                          cfg["answerTemperature"], cfg["controlWeight"])
            summed += grad.double()
            losses.append(loss)
        gradients = summed.tolist()
    timings["gradient"] = (time.perf_counter() - clock) * 1000
    log(f"gradient: {timings['gradient']:.0f} ms")

    # 3. ranking: the 3 most negative entries (equal entries keep candidate order)
    if gradients is not None:
        order = sorted(range(len(candidates)), key=lambda c: (gradients[c], c))[:cfg["candidatesToScore"]]
    else:
        order = rng.sample_without_replacement(len(candidates), min(cfg["candidatesToScore"], len(candidates)))
    ranked = [candidates[c] for c in order]

    # 4. selection by regenerated reasoning
    clock = time.perf_counter()
    pad = text.tok.pad_token_id if text.tok.pad_token_id is not None else stop_ids[0]
    cache, rescored = {}, []
    lowest, chosen, early = float("inf"), None, False
    for token in ranked:
        cand_prompt = list(prompt)
        cand_prompt[position] = token
        prompt_text = text.decode(cand_prompt)
        token_text = text.decode([token])
        ends = cfg["sentenceEnd"] in token_text and position >= cfg["earlyExitFraction"] * initial_length
        cached = prompt_text in cache
        if not cached:
            cand_prefixes = [text.prefix(ex["question"], cand_prompt)[0] for ex in train]
            regenerated = generate_reasoning(model, text, cand_prefixes, cfg["maxNewTokens"], stop_ids)
            rows = []
            for ex, r in zip(train, regenerated):
                ids, pspan, aspan = text.full(ex["question"], cand_prompt, r, extractor, ex["answer"])
                rows.append((ids, pspan, aspan))
            scored = score_rows(model, rows, pad)
            mistake = sum(0 if e else 1 for e, _ in scored) / len(scored)
            nll = sum(n for _, n in scored) / len(scored)
            cache[prompt_text] = (mistake, nll, mistake + cfg["controlWeight"] / 10 * nll)
        mistake, nll, score = cache[prompt_text]
        entry = {"token": token, "text": token_text, "promptText": prompt_text, "mistakeRate": mistake,
                 "promptNll": nll, "score": score, "cached": cached, "endsSentenceEarly": ends}
        rescored.append(entry)
        log(f"candidate {token_text!r}: mistakes {mistake:.3f} nll {nll:.4f} score {score:.4f}")
        if score <= lowest:
            lowest, chosen = score, entry
        if ends:
            chosen, early = entry, True
            break
    timings["selection"] = (time.perf_counter() - clock) * 1000
    timings["total"] = sum(timings.values())
    return {
        "reasoning": reasoning,
        "proposal": {"k": k, "raises": raises, "candidates": candidates},
        "gradients": gradients,
        "gradientLoss": sum(losses) / len(losses) if losses else None,
        "ranked": ranked,
        "rescored": rescored,
        "chosen": {"token": chosen["token"], "text": chosen["text"]},
        "earlyExit": early,
        "loss": chosen["score"],
        "rngStateAfter": rng.state,
        "timingsMs": timings,
    }


DEFAULTS = {  # ts/optimizer/config.ts
    "initialPrompt": " proper logical reasoning and think step by step. Finally give the actual correct answer.",
    "topK": 11, "topQ": 6, "examplesPerIntersection": 5, "minCandidates": 6, "kIncrement": 2,
    "candidatesToScore": 3, "answerTemperature": 0.2, "controlWeight": 0.2, "maxNewTokens": 1024,
    "userTurnTemplate": "authors", "candidateFilter": "strict", "sentenceEnd": ".", "earlyExitFraction": 0.5,
    "reasoning": True, "ranking": "gradient",
}


def read_data(path):
    name = os.path.basename(path)
    with open(path, encoding="utf8") as f:
        content = f.read()
    if content.lstrip().startswith("{") and not path.endswith(".jsonl"):
        data = json.loads(content)
        rows = data["train"]
    else:
        data = {}
        rows = [json.loads(line) for line in content.splitlines() if line.strip()]
    train = [{"id": r.get("id", f"{name}:{i + 1}"), "question": r["question"], "answer": str(r["answer"])}
             for i, r in enumerate(rows)]
    return data, train


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="model folder (config.json, safetensors, tokenizer)")
    ap.add_argument("--data", required=True, help="train examples: JSON lines, or JSON {extractor, train}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n-train", type=int, default=None, help="use the first N examples")
    ap.add_argument("--extractor", default=None, help='default: the data file\'s, else "Therefore, the final answer is $"')
    ap.add_argument("--position", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    for key, value in DEFAULTS.items():
        flag = "--" + re.sub(r"([A-Z])", lambda m: "-" + m.group(1).lower(), key)
        if isinstance(value, bool):
            ap.add_argument(flag, dest=key, type=lambda s: s.lower() in ("1", "true", "yes"), default=None)
        else:
            ap.add_argument(flag, dest=key, type=type(value), default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data, train = read_data(args.data)
    if args.n_train:
        train = train[:args.n_train]
    cfg = dict(DEFAULTS)
    if "initialPrompt" in data:
        cfg["initialPrompt"] = data["initialPrompt"]
    for key in DEFAULTS:
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    extractor = args.extractor or data.get("extractor") or "Therefore, the final answer is $"

    log = lambda msg: print(msg, file=sys.stderr, flush=True)
    started = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    model.eval()
    text = Text(args.model, cfg["userTurnTemplate"])
    stop_ids = text.stop_ids(args.model, model)
    prompt = text.canonical_prompt(train[0]["question"], text.encode_prompt(cfg["initialPrompt"]))
    log(f"loaded in {time.perf_counter() - started:.1f} s; prompt {prompt}; stop ids {stop_ids}")

    rng = Mulberry32(args.seed)
    step = greater_step(model, text, train, extractor, prompt, args.position, len(prompt), rng, cfg, stop_ids, log)
    result = {
        "tool": "tools/reference/greater_step.py",
        "model": os.path.basename(os.path.normpath(args.model)),
        "data": os.path.basename(args.data),
        "seed": args.seed,
        "config": cfg,
        "extractor": extractor,
        "trainIds": [ex["id"] for ex in train],
        "prompt": prompt,
        "promptText": text.decode(prompt),
        "position": args.position,
        "stopTokenIds": stop_ids,
        "torch": torch.__version__,
        **step,
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    log(f"chosen {step['chosen']} loss {step['loss']:.4f}; wrote {args.out}")


if __name__ == "__main__":
    main()
