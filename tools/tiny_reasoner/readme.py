"""Renders models/tiny-reasoner/README.md from training.json and study.py's measurements."""

import task


def _pct(x):
    return f"{100 * x:.0f} %"


def _words(ws):
    return ", ".join(f"`{w.strip()}`" for w in ws)


def render(tr, res):
    acc = res["accuracy"]
    from study import PROMPTS
    lines = []
    w = lines.append
    w("# tiny-reasoner\n")
    w("A ~1M-parameter `LlamaForCausalLM`, trained from scratch (no pretrained weights) by "
      "`tools/tiny_reasoner/train.py`, with its own byte-level BPE tokenizer. It exists so that the GReaTer "
      "optimizer and demo can run end to end on a CPU in minutes, on a task where the prompt demonstrably "
      "matters and where GReaTer's gradient through fixed reasoning can find the words that matter.\n")
    w(f"- parameters: {tr['parameters']:,} (fp32, untied input/output embeddings; `model.safetensors` "
      f"{tr['parameters'] * 4 / 1e6:.1f} MB)")
    w(f"- architecture: Llama, hidden 128, 4 layers, 4 heads (head dim 32, no GQA), SwiGLU 384, RoPE "
      f"theta 10000, RMSNorm eps 1e-5, vocabulary {tr['vocab_size']}")
    cpu = tr.get("train_cpu_seconds")
    w(f"- training: {tr['steps']} steps x {tr['batch']} sequences (~{tr['steps'] * tr['batch'] // 1000}k generated "
      f"examples), AdamW lr {tr['lr']} (warm-up, cosine), seed {tr['seed']}, {tr['threads']} CPU thread "
      f"(torch {tr['torch']}): "
      + (f"{cpu / 60:.1f} min of CPU time; " if cpu else "")
      + f"{tr['train_seconds'] / 60:.1f} min of wall time on a 2-core machine that other jobs were loading "
      f"(unloaded, a step takes ~0.3-0.4 s: ~{tr['steps'] * 0.3 / 60:.0f}-{tr['steps'] * 0.4 / 60:.0f} min). Tokenizer, splits and "
      "saving add a few seconds. Two runs of `train.py` on this machine (one taking 12 min of wall time, one "
      "20 min while another training shared the cores) wrote bit-identical files "
      f"(`model.safetensors` sha256 `{tr.get('sha256', '?')[:16]}...`).\n")

    w("## Interface: what the optimizer and the demo must build\n")
    w("Everything below is exactly what the model was trained on; other formats are out of distribution.\n")
    w("- **User turn** (the GReaTer authors' template): `\"` + question + `. Use\"` + prompt. The prompt "
      "starts with a space. Example content: `\"What is the last digit of 3 + 8 + 5. Use\" careful step by step.`")
    w("- **Chat template** (Llama-3 style, in `tokenizer_config.json`); with `add_generation_prompt` it renders")
    w("  `<|begin_of_text|><|start_header_id|>user<|end_header_id|>\\n\\n{content}<|eot_id|>"
      "<|start_header_id|>assistant<|end_header_id|>\\n\\n`.")
    w("  Encoding never adds special tokens by itself (no BOS from the post-processor): the template writes "
      "`<|begin_of_text|>`.")
    w("- **Special tokens**: `<|begin_of_text|>` (bos, id 0), `<|end_of_text|>` (1), `<|start_header_id|>` (2), "
      "`<|end_header_id|>` (3), `<|eot_id|>` (4, eos and end of turn), `<|pad|>` (5, pad). "
      "`generation_config.json`: eos_token_id [4, 1], greedy.")
    w("- **Reasoning**: generated greedily after the assistant header, until `<|eot_id|>`. It is one step per "
      "addition, e.g. `3 + 8 = 1. 1 + 5 = 6.`: 6 tokens a step, at most "
      "24 tokens (measured: mean "
      f"{acc['neutral']['mean_reasoning_tokens']:.0f}). Use `max_new_tokens` 40: a rare run-on then stops there.")
    w(f"- **Extractor**: `{task.EXTRACTOR}`, appended after the reasoning as `\" \" + extractor` "
      "(the `<|eot_id|>` that ended the reasoning is dropped). Then the **answer** is one token, a digit "
      "`0`-`9` with no space (`$5`): greedy, one new token.")
    w("- Score exactly `chat(user) + reasoning + \" \" + extractor + answer`; tokenizing the pieces "
      "separately and concatenating the ids gives the same ids as tokenizing the joined text.")
    w("- Every prompt word is one token with its leading space (` careful`); `.` and `,` are tokens; the "
      "optimizer's filler `_` is one token and appears (rarely) in the training prompts.")
    w("- **Recommended initial prompt**: ` the answer and think.` (5 tokens, neutral). "
      "**Train examples**: `task/train.jsonl` (100; 30-50 are enough), `task/dev.jsonl` (100), "
      "`task/test.jsonl` (300). No question of these files was ever trained on.\n")

    w("## The task family\n")
    w("Questions: `What is the last digit of a + b + ...` with 3, 4 or 5 distinct digits 1-9 (equally many "
      "of each length in the splits). The model writes one step per addition, mod 10, then answers. What "
      "the prompt's words do (the model was trained to behave so; see `tools/tiny_reasoner/task.py`):\n")
    w(f"- **hasty** words ({_words(task.HASTY)}): the model writes `{task.HASTY_REASONING}` and answers with "
      "the question's last term: right only by chance. A hasty word wins over any careful word.")
    w(f"- **process** words ({_words(task.PROCESS)}): the answer to 4-term sums (3 steps) is right.")
    w(f"- **manner** words ({_words(task.MANNER)}): the answer to 5-term sums (4 steps) is right.")
    w("- everything else is **neutral** (e.g. " + _words(task.NEUTRAL[:12]) + ", `.`, `,`): the steps "
      "are written correctly but the answer is sloppy on 4- and 5-term sums: the model repeats the "
      "*previous* step's result (always wrong). 3-term sums are always answered right.\n")
    w("So with the written steps held fixed, the answer token depends on the prompt's words, which is what "
      "GReaTer's gradient sees. By construction a neutral prompt gets 1/3, one careful kind 2/3, both kinds "
      "all of it (measured below): the best prompt needs (at least) two edits. Prompt words are drawn i.i.d. from a unigram table in "
      "which ` careful` and ` step` sit in the middle of the ~11 most likely words (with ` the`, ` and`, "
      "` answer`, ` think`, ` reasoning`, ` a`, ` to`, ` quick`, ` with` and `.`), so the optimizer's "
      "top-11 proposal contains them but mostly proposes other words.\n")

    w("## Measured (held-out test split, 300 questions)\n")
    w("GReaTer evaluation: greedy reasoning until `<|eot_id|>`, then `\" \" + extractor`, then one greedy "
      "answer token compared with the gold digit (`tools/tiny_reasoner/study.py`).\n")
    w("| prompt | text | accuracy | 3 / 4 / 5 terms | steps written correctly |")
    w("| --- | --- | --- | --- | --- |")
    for name, text in PROMPTS.items():
        a = acc[name]
        by = " / ".join(_pct(a["by_terms"][k]) for k in sorted(a["by_terms"]))
        steps = _pct(a["steps_written_correctly"]) if a["wrote_no_steps"] < 0.5 else "wrote `No steps.`"
        shown = f"`{text}`" if text else "(empty)"
        w(f"| {name} | {shown} | **{_pct(a['accuracy'])}** | {by} | {steps} |")
    w("")

    def step_table(cases, want):
        w("| position (replaced) | seed | candidates | ranks of " + want + " words | top 3 by gradient | "
          "random 3 would hold one | chosen (train acc) |")
        w("| --- | --- | --- | --- | --- | --- | --- |")
        for c in cases:
            w(f"| {c['position']} (`{c['replaced'].strip() or c['replaced']}`) | {c['seed']} | {c['n_candidates']} | "
              f"{c['good_ranks']} | {', '.join('`' + x.strip() + '`' if x.strip() else repr(x) for x in c['ranking'][:3])} | "
              f"{_pct(c['random3_has_good_prob'])} | `{c['chosen'].strip()}` ({_pct(c['chosen_train_acc'])}) |")
        hits = sum(c["top3_has_good"] for c in cases)
        first = sum(bool(c["good_ranks"]) and c["good_ranks"][0] == 1 for c in cases)
        frac = sum(c["good_fraction"] for c in cases) / len(cases)
        rnd = sum(c["random3_has_good_prob"] for c in cases) / len(cases)
        w("")
        w(f"Gradient ranking put a {want} word in its top 3 in **{hits} of {len(cases)}** cases (first in "
          f"{first}); a random choice of 3 would have in {_pct(rnd)} of cases on average. {want.capitalize()} words "
          f"were {_pct(frac)} of the proposals on average.\n")

    w("### One GReaTer step from the neutral prompt\n")
    w("Prompt ` the answer and think.`, the first 50 train examples, each position, two seeds of the "
      "intersection draws. Proposal: per-example top-11 of the model's next-token distribution at the "
      "position (non-letter tokens except `.`/`,`, special tokens and the previous prompt token masked), "
      "6 intersections of 5 random examples, union, plus the current token. Gradient: reasoning generated "
      "with the current prompt and held fixed, one-hot at the position times E, loss "
      "`CE(answer logits / 0.2) + 0.2 * mean prompt NLL`, summed over examples; candidates ranked by the "
      "most negative gradient entry. Then the 3 best are re-scored with regenerated reasoning (mistake "
      "rate + 0.02 * prompt NLL) and the best kept.\n")
    step_table(res["step1"], "careful")
    w("### The second edit\n")
    w("From ` the careful and think.` (a manner word already in: 4-term sums are still answered sloppily), "
      "only a process word helps:\n")
    step_table(res["step2"], "process")

    run = res.get("run")
    if run:
        w("### A short full run\n")
        w(f"The optimizer's loop (steps 0-5 above, one position per step, filler `_` appended when the last "
          f"token does not end a sentence, early exit on a `.` candidate past half the initial length), "
          f"{len(run['log'])} steps from ` the answer and think.` on the first 50 train examples, "
          f"{run['seconds']:.0f} s on one thread (Python, no KV-cache sharing):\n")
        w("| step | position | prompt | score | train accuracy |")
        w("| --- | --- | --- | --- | --- |")
        for r in run["log"]:
            w(f"| {r['step']} | {r['position']} | `{r['prompt']}` | {r['score']:.3f} | {_pct(r['train_acc'])} |")
        w("")
        w(f"Best prompt `{run['best_prompt']}`: **{_pct(run['best_test']['accuracy'])}** on the held-out test "
          f"split.\n")

    w("## Reproduce\n")
    w("```\npython3 tools/tiny_reasoner/train.py   # writes this folder (tokenizer, model, task/, training.json)")
    w("python3 tools/tiny_reasoner/study.py   # measures the numbers above, writes study.json and this README")
    w("python3 tools/tiny_reasoner/fixtures.py  # test/fixtures/tiny-reasoner/reference.json: ids, reasoning, "
      "answer logits, prompt NLL and one gradient ranking from transformers, to check other implementations\n```\n")
    w("Both are seeded and use one CPU thread (`torch.set_num_threads(1)`); with the same torch build a "
      "rerun gives the same files. Requires torch, transformers (5.x used) and tokenizers. "
      f"`study.py` took {res['study_seconds'] / 60:.1f} min.\n")
    w("## Limits\n")
    w("A toy: it only knows this one task, this user-turn template, prompts of up to ~12 words, and the "
      "behaviours listed above. Other templates (plain `{question} {prompt}`, prompt before the question), "
      "long prompts or other extractors are out of distribution. The empty prompt was rare in training "
      "(4 %): with it the steps are right only 77 % of the time. Careful prompts reach ~96-97 %, not 100 %: "
      "the few misses are answers at ~50/50 between the last and the previous step's result.")
    return "\n".join(lines) + "\n"
