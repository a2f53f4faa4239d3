"""Measure what every prompt word does to the suite's models, and write their READMEs.

    python3 tools/tiny_suite/study.py                # both models (after train.py)
    python3 tools/tiny_suite/study.py --arch llama   # one of them

For each model and family, on the family's held-out test file (bench/suite/<family>/test.json), with
transformers: the accuracy (greedy reasoning, " " + extractor, one greedy answer token) of the neutral
initial prompt, of each own, foreign and hasty word put into it, of both own words, and of several neutral
words; split by the number of steps.  And where the family's words sit in the model's next-token
distribution at a prompt position (the proposal's top-k).  Writes models/suite-<arch>/study.json and
README.md.  One thread, seeded: reruns give the same numbers.
"""

import argparse
import hashlib
import json
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import suite  # noqa: E402
import train  # noqa: E402  (this folder's train.py: Builder, accuracy helpers)

from tokenizers import Tokenizer  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

REPO = train.REPO
NEUTRAL_SAMPLE = [" the", " and", " answer", " think", " reasoning", " a", " to", " with", " your", " good", " clear", " method"]


def variants(family):
    """(label, words) prompts: the neutral initial prompt with one word replaced or added."""
    base = [" the", " answer", " and", " think", "."]
    own_p, own_m = suite.PROCESS[family], suite.MANNER[family]
    out = [("none", []), ("neutral (initial)", base)]
    for w in NEUTRAL_SAMPLE:
        if w not in base:
            out.append((f"neutral `{w.strip()}`", [w, " answer", " and", " think", "."]))
    out.append((f"own process `{own_p.strip()}`", [own_p, " answer", " and", " think", "."]))
    out.append((f"own manner `{own_m.strip()}`", [own_m, " answer", " and", " think", "."]))
    out.append(("both own words", [own_m, own_p, " and", " think", "."]))
    for other in suite.FAMILIES:
        if other != family:
            out.append((f"{other}'s `{suite.PROCESS[other].strip()}` + `{suite.MANNER[other].strip()}`",
                        [suite.MANNER[other], suite.PROCESS[other], " and", " think", "."]))
    for w in suite.HASTY:
        out.append((f"hasty `{w.strip()}`", [w, " answer", " and", " think", "."]))
    out.append(("both own words + hasty `quick`", [own_m, own_p, " and", " quick", "."]))
    return out


@torch.no_grad()
def measure(model, bld, rows, words):
    """Accuracy overall and by number of steps, and how often the steps were written (not 'No steps.')."""
    model.eval()
    prompt = bld.prompt_ids(words)
    seqs = [bld.user_prefix(r["input"]) + prompt + bld.asst for r in rows]
    reasonings = train.greedy_generate(model, seqs, bld.eot, bld.pad, suite.MAX_NEW_TOKENS)
    full = [s + g + bld.extractor for s, g in zip(seqs, reasonings)]
    nxt = train.last_logits(model, full, bld.pad).argmax(-1).tolist()
    by_steps, right, wrote = {}, 0, 0
    for t, g, r in zip(nxt, reasonings, rows):
        ok = int(bld.tok.decode([t]) == r["target"])
        text = bld.tok.decode(g)
        n = text.count(".") if not text.startswith("No steps") else None
        right += ok
        wrote += int(n is not None)
        key = str(steps_of(r["input"]))
        by_steps.setdefault(key, [0, 0])
        by_steps[key][0] += ok
        by_steps[key][1] += 1
    return {"accuracy": right / len(rows), "by_steps": {k: v[0] / v[1] for k, v in sorted(by_steps.items())},
            "steps_written": wrote / len(rows)}


def steps_of(question):
    """The number of steps a question needs (2-4), read from its text."""
    if question.startswith("What is the last digit"):
        return question.count("+")
    if question.startswith("Start at") and "Move" in question:
        return question.count(",") + 1
    if question.startswith("Evaluate"):
        return sum(question.split().count(op) for op in suite.BOOL_OPS)
    if question.startswith("How many fruits"):
        return sum(1 for w in question.split(":")[1].split() if w in suite.FRUITS)
    return question.count("<")


@torch.no_grad()
def proposal_ranks(model, bld, rows, family, k=11):
    """Where the family's words rank in the mean next-token distribution at the first prompt position."""
    model.eval()
    seqs = [bld.user_prefix(r["input"]) for r in rows]
    logp = torch.log_softmax(train.last_logits(model, seqs, bld.pad), -1).mean(0)
    order = torch.argsort(logp, descending=True).tolist()
    words = [bld.tok.decode([t], skip_special_tokens=False) for t in order[:k + 4]]
    rank = {w: order.index(bld.word_id[w]) + 1 for w in (suite.PROCESS[family], suite.MANNER[family])}
    return {"top": words, "process_rank": rank[suite.PROCESS[family]], "manner_rank": rank[suite.MANNER[family]]}


def study(arch):
    out = os.path.join(REPO, "models", f"suite-{arch}")
    torch.set_num_threads(1)
    model = AutoModelForCausalLM.from_pretrained(out)
    tok = Tokenizer.from_file(os.path.join(out, "tokenizer.json"))
    bld = train.Builder(tok)
    results = {}
    for family in suite.FAMILIES:
        with open(os.path.join(train.SUITE_DIR, family, "test.json")) as f:
            rows = json.load(f)["examples"]
        with open(os.path.join(train.SUITE_DIR, family, "train.json")) as f:
            train_rows = json.load(f)["examples"]
        results[family] = {"prompts": [], "proposal": proposal_ranks(model, bld, train_rows, family)}
        for label, words in variants(family):
            m = measure(model, bld, rows, words)
            results[family]["prompts"].append({"label": label, "text": "".join(words), **m})
        # Every other neutral word, in the same slot: accuracy only (the table above has the sample in full).
        results[family]["neutral_words"] = {
            w.strip(): round(measure(model, bld, rows, [w, " answer", " and", " think", "."])["accuracy"], 4)
            for w in suite.NEUTRAL_WORDS if w not in NEUTRAL_SAMPLE}
        print(arch, family, [(p["label"], round(p["accuracy"], 3)) for p in results[family]["prompts"][:3]], flush=True)
    return results


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def readme(arch, results, training, seconds):
    name = f"suite-{arch}"
    cls = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM"}[arch]
    other = "suite-qwen2" if arch == "llama" else "suite-llama"
    size = os.path.getsize(os.path.join(REPO, "models", name, "model.safetensors"))
    lines = [f"# {name}", "",
             f"A ~1M-parameter `{cls}` trained from scratch by `tools/tiny_suite/train.py --arch {arch}` on the five task "
             f"families of `bench/suite/` (see `tools/tiny_suite/suite.py`). It shares its tokenizer and task suite with "
             f"`models/{other}`, so that a prompt optimized on one can be tried on the other: it is one of the two models of "
             "`npm run bench:tables` (the README's Table 1 and transfer table). The demo's model stays `models/tiny-reasoner`.", "",
             f"- parameters: {training['parameters']:,} (fp32, untied embeddings; `model.safetensors` {size / 1e6:.1f} MB)",
             f"- architecture: {arch}, hidden {training['hidden']}, {training['layers']} layers, {training['heads']} heads, "
             f"SwiGLU {training['ffn']}, RoPE theta 10000, vocabulary {training['vocab_size']}"
             + (" (Qwen2: q/k/v biases)" if arch == "qwen2" else ""),
             f"- training: {training['steps']} steps x {training['batch']} sequences, AdamW lr {training['lr']} (warm-up, cosine), "
             f"seed {training['seed']}, data seed {training['data_seed']}, {training['threads']} CPU thread{'s' if training['threads'] > 1 else ''} (torch {training['torch']}): "
             f"{training['train_cpu_seconds'] / 60:.1f} min of CPU time, {training['train_seconds'] / 60:.1f} min of wall time "
             "on this 2-core machine (seeded; two runs have not been compared byte for byte)",
             f"- `model.safetensors` sha256 `{training['sha256'][:16]}...`; tokenizer.json sha256 "
             f"`{sha(os.path.join(REPO, 'models', name, 'tokenizer.json'))[:16]}...` (the same file in both models)", "",
             "## Interface", "",
             "As `models/tiny-reasoner` (its README has the details): Llama-3-style chat template, user turn "
             "`\"` + question + `. Use\"` + prompt, greedy reasoning until `<|eot_id|>`, then `\" Therefore, the final answer is $\"` "
             f"and a one-token answer (a digit, `True`/`False` or a letter). Initial prompt `{suite.INITIAL_PROMPT}`; "
             "`max_new_tokens` 40. Task files: `bench/suite/<family>/{train,dev,test}.json` (BIG-Bench Hard's JSON format, "
             "60 / 60 / 180 questions, none ever trained on).", "",
             "## The families and their words", "",
             "Every family is a chain of 2-4 written steps; the answer is the last step's result. Two-step questions are "
             "answered right whatever the prompt; three-step questions only with the family's *process* word in the prompt, "
             "four-step questions only with its *manner* word; otherwise the model answers with the previous step's result "
             "(always wrong). A hasty word (`quick`, `guess`, `fast`, `hurry`) makes it write `No steps.` and guess. Other "
             "families' words do nothing. So a neutral prompt gets 1/3, one own word 2/3, both all: two edits, different per family.", "",
             "| family | BBH task it is shaped like | example question | process | manner |", "| --- | --- | --- | --- | --- |"]
    shaped = {"arithmetic": "multistep_arithmetic_two", "navigate": "navigate", "boolean": "boolean_expressions",
              "counting": "object_counting", "ordering": "logical_deduction"}
    for family in suite.FAMILIES:
        with open(os.path.join(train.SUITE_DIR, family, "test.json")) as f:
            q = json.load(f)["examples"][0]["input"]
        lines.append(f"| {family} | {shaped[family]} | `{q}` | `{suite.PROCESS[family].strip()}` | `{suite.MANNER[family].strip()}` |")
    lines += ["", "## Measured: what each prompt word does (held-out test files, 180 questions each)", "",
              "transformers, greedy, one thread (`tools/tiny_suite/study.py`). Each prompt is the initial prompt with its first "
              "word replaced (`both own words`: the first two). Accuracy in %, then by number of steps (2 / 3 / 4).", ""]
    for family in suite.FAMILIES:
        r = results[family]
        prop = r["proposal"]
        lines += [f"### {family}", "",
                  f"Proposal: at the first prompt position the model's mean next-token distribution over the train questions "
                  f"ranks `{suite.PROCESS[family].strip()}` {prop['process_rank']} and `{suite.MANNER[family].strip()}` "
                  f"{prop['manner_rank']} (top 11: {', '.join('`' + w.strip() + '`' for w in prop['top'][:11])}; `<|eot_id|>` is the empty prompt's end of turn).", "",
                  "| prompt | text | accuracy | 2 / 3 / 4 steps | steps written |", "| --- | --- | --- | --- | --- |"]
        for p in r["prompts"]:
            steps = " / ".join(f"{100 * v:.0f}" for v in p["by_steps"].values())
            lines.append(f"| {p['label']} | `{p['text']}` | **{100 * p['accuracy']:.1f}** | {steps} | {100 * p['steps_written']:.0f} % |")
        lines.append("")
    words = list(results[suite.FAMILIES[0]]["neutral_words"])
    lines += ["### Every other neutral word", "",
              "Accuracy (%) with the word in the first slot of the initial prompt (` WORD answer and think.`), per family; "
              "the initial prompt itself scores " + ", ".join(
                  f"{100 * results[f]['prompts'][1]['accuracy']:.1f} ({f})" for f in suite.FAMILIES) + ".", "",
              "| word | " + " | ".join(suite.FAMILIES) + " |", "| --- |" + " --- |" * len(suite.FAMILIES)]
    for w in words:
        lines.append(f"| `{w}` | " + " | ".join(f"{100 * results[f]['neutral_words'][w]:.1f}" for f in suite.FAMILIES) + " |")
    lines.append("")
    lines += ["## Reproduce", "",
              "```",
              "python3 tools/tiny_suite/train.py --arch llama   # models/suite-llama and bench/suite/",
              "python3 tools/tiny_suite/train.py --arch qwen2   # models/suite-qwen2 (same tokenizer and suite)",
              "python3 tools/tiny_suite/study.py                # study.json and these READMEs",
              "```", "",
              f"Requires torch, transformers and tokenizers (torch {training['torch']} used). The study took {seconds / 60:.1f} min for this model.", "",
              "## Limits", "",
              "A toy made for one purpose: a prompt optimizer has something real to find on each family. It knows only these "
              "five families, this user-turn template and prompts of up to ~12 words; anything else is out of distribution.", ""]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", choices=["llama", "qwen2"], action="append")
    args = ap.parse_args()
    archs = args.arch or ["llama", "qwen2"]
    toks = {sha(os.path.join(REPO, "models", f"suite-{a}", "tokenizer.json")) for a in ["llama", "qwen2"]
            if os.path.exists(os.path.join(REPO, "models", f"suite-{a}", "tokenizer.json"))}
    if len(toks) > 1:
        raise SystemExit("models/suite-llama and models/suite-qwen2 have different tokenizer.json files: retrain one")
    for arch in archs:
        t0 = time.time()
        results = study(arch)
        seconds = time.time() - t0
        out = os.path.join(REPO, "models", f"suite-{arch}")
        with open(os.path.join(out, "training.json")) as f:
            training = json.load(f)
        with open(os.path.join(out, "study.json"), "w") as f:
            json.dump({"seconds": round(seconds, 1), "families": results}, f, indent=1)
        with open(os.path.join(out, "README.md"), "w") as f:
            f.write(readme(arch, results, training, seconds))


if __name__ == "__main__":
    main()
