#!/usr/bin/env python3
"""Makes the tiny random-weight models the engine's parity tests run on, and their reference outputs.

Every architecture and feature the engine supports gets a model in test/fixtures/tiny-models/<name>/ saved
with transformers' save_pretrained(safe_serialization=True), and a reference.json holding what transformers
computes in float32 with eager attention: log-probabilities of a left- and a right-padded batch, greedy
continuations, top-k proposals, one-hot gradients over reasoning and selection scores. The tests
(test/engine/*.test.ts) compare the engine against these files and never need Python.

Usage: python3 tools/make_tiny_models.py   (offline; torch + transformers; deterministic for a given seed)
"""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import torch
import transformers
from transformers import (
    Gemma2Config,
    Gemma2ForCausalLM,
    GenerationConfig,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "test" / "fixtures" / "tiny-models"
SEED = 1234
VOCAB = 160
# Greedy steps and top-k boundaries must be decided by more than float32 noise, or a correct engine could
# legitimately pick another token. Every recorded decision has at least this logit margin.
MIN_MARGIN = 1e-3

COMMON = dict(vocab_size=VOCAB, num_hidden_layers=2, max_position_embeddings=512, bos_token_id=1, eos_token_id=2,
              pad_token_id=0)


def model_specs():
    """name -> (model class, config, weight dtype). Each exercises one family's features."""
    return {
        # Llama 3.x style: grouped-query attention, llama3 rope scaling whose original context (32) is shorter
        # than the head's wavelengths, so all three frequency bands (kept, smoothed, divided) occur; tied embeddings.
        "llama-gqa-rope3-tied": (LlamaForCausalLM, LlamaConfig(
            hidden_size=48, intermediate_size=96, num_attention_heads=4, num_key_value_heads=2,
            rope_parameters={"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0, "low_freq_factor": 1.0,
                             "high_freq_factor": 4.0, "original_max_position_embeddings": 32},
            tie_word_embeddings=True, **COMMON), torch.float32),
        # Llama 2 style: separate lm_head, plain rope, and the optional attention / MLP biases.
        "llama-untied": (LlamaForCausalLM, LlamaConfig(
            hidden_size=32, intermediate_size=80, num_attention_heads=4, num_key_value_heads=4,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, attention_bias=True, mlp_bias=True,
            tie_word_embeddings=False, **COMMON), torch.float32),
        # Mistral: a sliding window (5) shorter than every test sequence.
        "mistral-sliding": (MistralForCausalLM, MistralConfig(
            hidden_size=32, intermediate_size=64, num_attention_heads=4, num_key_value_heads=2, sliding_window=5,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, tie_word_embeddings=False, **COMMON),
            torch.float32),
        # Qwen2: q/k/v biases (no o_proj bias).
        "qwen2-bias": (Qwen2ForCausalLM, Qwen2Config(
            hidden_size=32, intermediate_size=64, num_attention_heads=4, num_key_value_heads=2,
            rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}, use_sliding_window=False,
            tie_word_embeddings=False, **COMMON), torch.float32),
        # Gemma2: head_dim (24) unrelated to hidden/heads, query_pre_attn_scalar, both soft-cappings small
        # enough to bite, sliding window (5) on layer 0 only, (1 + w) norms, sandwich norms, scaled embeddings.
        "gemma2": (Gemma2ForCausalLM, Gemma2Config(
            hidden_size=32, intermediate_size=64, num_attention_heads=2, num_key_value_heads=1, head_dim=24,
            query_pre_attn_scalar=20, sliding_window=5, attn_logit_softcapping=3.0, final_logit_softcapping=4.0,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, **COMMON), torch.float32),
        # Weights stored in bfloat16 (the reference upcasts them to float32).
        "llama-bf16": (LlamaForCausalLM, LlamaConfig(
            hidden_size=32, intermediate_size=64, num_attention_heads=4, num_key_value_heads=2,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, tie_word_embeddings=False, **COMMON),
            torch.bfloat16),
    }


def randomize(model: torch.nn.Module, generator: torch.Generator, gemma: bool) -> None:
    """Weights with O(1) activations and logits spread over several units, unlike transformers' tiny default
    init: soft-capping is exercised and greedy/top-k decisions have clear margins."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                base = 0.0 if gemma else 1.0  # Gemma scales by (1 + w)
                p.copy_(base + 0.2 * torch.randn(p.shape, generator=generator))
            elif p.dim() == 1:  # biases
                p.copy_(0.3 * torch.randn(p.shape, generator=generator))
            elif "embed_tokens" in name:
                p.copy_(torch.randn(p.shape, generator=generator) * (0.1 if gemma else 1.0))
            else:
                p.copy_(torch.randn(p.shape, generator=generator) * (1.6 / math.sqrt(p.shape[1])))


def rounded(values) -> list:
    """float32 values at 8 significant digits: exact enough for the tests' tolerances, half the JSON."""
    if isinstance(values, torch.Tensor):
        values = values.tolist()
    if isinstance(values, list):
        return [rounded(v) for v in values]
    return float(f"{values:.8g}")


def logits_of(model, ids: list[int]) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].float()  # [T, vocab]


def margin(row: torch.Tensor, k: int = 1) -> float:
    """Gap between the k-th and (k+1)-th largest finite values of a logit row."""
    top = row[torch.isfinite(row)].topk(k + 1).values
    return float(top[k - 1] - top[k])


def greedy_alone(model, prompt: list[int], steps: int) -> tuple[list[int], float]:
    """Greedy continuation by full recomputation (no cache, no eos): the ground truth transformers' generate
    must also reproduce, with the smallest decision margin seen."""
    ids, smallest = list(prompt), float("inf")
    for _ in range(steps):
        row = logits_of(model, ids)[-1]
        smallest = min(smallest, margin(row))
        ids.append(int(row.argmax()))
    return ids[len(prompt):], smallest


def random_rows(generator: torch.Generator, lengths: list[int]) -> list[list[int]]:
    # Ids 3.. avoid the pad/bos/eos ids so that special tokens play no part unless a test puts them there.
    return [torch.randint(3, VOCAB, (n,), generator=generator).tolist() for n in lengths]


def padded_log_probs(model, rows: list[list[int]], left: bool) -> dict:
    """transformers on a padded batch, with position ids counting real tokens (what generate does)."""
    width = max(len(r) for r in rows)
    ids, mask = [], []
    for r in rows:
        pad = [0] * (width - len(r))
        ids.append(pad + r if left else r + pad)
        mask.append([0] * len(pad) + [1] * len(r) if left else [1] * len(r) + [0] * len(pad))
    ids_t, mask_t = torch.tensor(ids), torch.tensor(mask)
    positions = (mask_t.cumsum(1) - 1).clamp(min=0)
    with torch.no_grad():
        logits = model(input_ids=ids_t, attention_mask=mask_t, position_ids=positions).logits.float()
    log_probs, max_abs = [], 0.0
    for b, r in enumerate(rows):
        columns = [c for c in range(width) if mask[b][c] == 1]
        max_abs = max(max_abs, float(logits[b, columns].abs().max()))
        log_probs.append(rounded(torch.log_softmax(logits[b, columns], -1)))
    return {"inputIds": ids, "attentionMask": mask, "logProbs": log_probs, "maxAbsLogit": max_abs}


def reference_generation(model, folder: Path, generator: torch.Generator) -> dict:
    steps = 12
    prompts = random_rows(generator, [3, 9, 6])
    while min(greedy_alone(model, p, steps)[1] for p in prompts) <= MIN_MARGIN:  # redraw near-ties
        prompts = random_rows(generator, [3, 9, 6])
    # Pick a stop token the model really emits: the first token that appears in some prompt's greedy run
    # only from step 3 on, recorded as generation_config.json's eos, so that row stops mid-way on it.
    free_runs = [greedy_alone(model, p, steps) for p in prompts]
    min_margin = min(m for _, m in free_runs)
    eos = next(run[i] for run, _ in free_runs for i in range(3, steps) if run[i] not in run[:i])
    model.generation_config = GenerationConfig(bos_token_id=1, eos_token_id=[eos], pad_token_id=0)
    model.generation_config.save_pretrained(folder)

    tokens, stopped = [], []
    for prompt in prompts:
        with torch.no_grad():
            out = model.generate(torch.tensor([prompt]), max_new_tokens=steps, do_sample=False,
                                 eos_token_id=[eos], pad_token_id=0)[0, len(prompt):].tolist()
        ended = eos in out
        new = out[: out.index(eos)] if ended else out
        tokens.append(new)
        stopped.append(ended)
    for (free, _), new in zip(free_runs, tokens):
        assert free[: len(new)] == new, "transformers' generate disagrees with plain greedy decoding"
    return {"prompts": prompts, "maxNewTokens": steps, "eosTokenIds": [eos], "tokens": tokens, "stopped": stopped,
            "freeRun": [f for f, _ in free_runs], "minMargin": min_margin}


def reference_candidates(model, generator: torch.Generator) -> dict:
    positions = [5, 9, 3]
    k = 6
    disallowed = sorted(set(range(0, 12)) | set(range(14, VOCAB, 7)))
    smallest = 0.0
    while smallest <= MIN_MARGIN:  # redraw rows whose top-k order is a near-tie
        sequences = random_rows(generator, [12, 9, 15])
        exclude = [[s[i - 1]] for s, i in zip(sequences, positions)]  # GReaTer masks the token before i
        candidates, smallest = [], float("inf")
        for s, i, ex in zip(sequences, positions, exclude):
            row = logits_of(model, s)[i - 1].clone()
            row[disallowed] = float("-inf")
            row[ex] = float("-inf")
            candidates.append(row.topk(k).indices.tolist())
            smallest = min(smallest, min(margin(row, j) for j in range(1, k + 1)))
    return {"sequences": sequences, "positions": positions, "k": k, "disallowed": disallowed, "exclude": exclude,
            "candidates": candidates, "minMargin": smallest}


def reference_gradient(model, generator: torch.Generator) -> dict:
    """Per row, alone: L = CE(answer logits / tau) + lambda * prompt NLL, backpropagated to a one-hot over the
    candidates at the prompt position (embedding = onehot @ E[candidates], scaled like any embedding)."""
    sequences = random_rows(generator, [18, 14, 21])
    prompt_spans = [[3, 9], [2, 7], [4, 12]]
    positions = [5, 4, 10]
    answer_spans = [[len(s) - 3, len(s)] for s in sequences]
    answer_spans[1] = [len(sequences[1]) - 1, len(sequences[1])]  # a one-token answer
    temperature, control_weight = 0.2, 0.2
    current = [s[i] for s, i in zip(sequences, positions)]
    extra = [c for c in torch.randperm(VOCAB, generator=generator).tolist() if c not in current][:6]
    candidates = extra[:3] + current + extra[3:]

    embedding = model.get_input_embeddings()
    scale = getattr(embedding, "embed_scale", None)
    matrix = embedding.weight.detach()
    rows = []
    for s, i, (a0, a1), (p0, p1) in zip(sequences, positions, answer_spans, prompt_spans):
        ids = torch.tensor([s])
        onehot = torch.zeros(len(candidates))
        onehot[candidates.index(s[i])] = 1.0
        onehot.requires_grad_(True)
        with torch.no_grad():
            embeds = embedding(ids)  # [1, T, hidden], already scaled for Gemma2
        replacement = onehot @ matrix[candidates]
        if scale is not None:
            replacement = replacement * scale.to(matrix.dtype)
        embeds = torch.cat([embeds[:, :i], replacement[None, None], embeds[:, i + 1:]], dim=1)
        logits = model(inputs_embeds=embeds).logits[0].float()
        answer = torch.nn.functional.cross_entropy(logits[a0 - 1:a1 - 1] / temperature, ids[0, a0:a1])
        prompt = torch.nn.functional.cross_entropy(logits[p0 - 1:p1 - 1], ids[0, p0:p1])
        loss = answer + control_weight * prompt
        loss.backward()
        rows.append((onehot.grad.clone(), loss.item(), answer.item(), prompt.item()))
    return {"sequences": sequences, "positions": positions, "candidates": candidates, "answerSpans": answer_spans,
            "promptSpans": prompt_spans, "temperature": temperature, "controlWeight": control_weight,
            "gradients": [rounded(g) for g, *_ in rows], "losses": rounded([r[1] for r in rows]),
            "answerLosses": rounded([r[2] for r in rows]), "promptNll": rounded([r[3] for r in rows])}


def reference_scores(model, generator: torch.Generator) -> dict:
    """Row 0's answer is the model's own greedy continuation, so its arg-max matches at every answer position."""
    prefixes = random_rows(generator, [10, 13, 8])
    greedy, _ = greedy_alone(model, prefixes[0], 3)
    sequences = [prefixes[0] + greedy, prefixes[1] + random_rows(generator, [2])[0], prefixes[2] + random_rows(generator, [4])[0]]
    answer_spans = [[10, 13], [13, 15], [8, 12]]
    prompt_spans = [[2, 6], [1, 13], [3, 3]]  # the last is empty: no fluency term
    answer_loss, exact, prompt_nll = [], [], []
    for s, (a0, a1), (p0, p1) in zip(sequences, answer_spans, prompt_spans):
        logits = logits_of(model, s)
        ids = torch.tensor(s)
        answer_loss.append(float(torch.nn.functional.cross_entropy(logits[a0 - 1:a1 - 1], ids[a0:a1])))
        exact.append(int(bool((logits[a0 - 1:a1 - 1].argmax(-1) == ids[a0:a1]).all())))
        prompt_nll.append(float(torch.nn.functional.cross_entropy(logits[p0 - 1:p1 - 1], ids[p0:p1])) if p1 > p0 else 0.0)
    assert exact[0] == 1
    return {"sequences": sequences, "answerSpans": answer_spans, "promptSpans": prompt_spans,
            "answerLoss": rounded(answer_loss), "exactMatch": exact, "promptNll": rounded(prompt_nll)}


def write_legacy_config(folder: Path) -> None:
    """Rewrites config.json the way pre-v5 checkpoints (e.g. Llama 3.2 on the Hub) store rope settings:
    top-level rope_theta and a rope_scaling object with "rope_type"."""
    path = folder / "config.json"
    config = json.loads(path.read_text())
    rope = config.pop("rope_parameters")
    config["rope_theta"] = rope.pop("rope_theta")
    config["rope_scaling"] = rope
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def main() -> None:
    torch.manual_seed(SEED)
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    manifest = {"transformers": transformers.__version__, "torch": torch.__version__.split("+")[0], "seed": SEED, "models": {}}
    for index, (name, (cls, config, weight_dtype)) in enumerate(model_specs().items()):
        generator = torch.Generator().manual_seed(SEED + index)
        config._attn_implementation = "eager"
        model = cls(config).eval()
        randomize(model, generator, gemma=name.startswith("gemma"))
        folder = OUT / name
        if weight_dtype != torch.float32:
            model = model.to(weight_dtype)
        model.save_pretrained(folder, safe_serialization=True)
        # The reference runs in float32 with eager attention, from exactly the saved weights.
        model = cls.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
        model.requires_grad_(False)

        rows = random_rows(generator, [11, 5, 16])
        reference = {
            "architecture": config.architectures[0] if config.architectures else cls.__name__,
            "weightDtype": str(weight_dtype).replace("torch.", ""),
            "parameterCount": model.num_parameters(),
            "logits": {"sequences": rows, "left": padded_log_probs(model, rows, left=True),
                       "right": padded_log_probs(model, rows, left=False)},
            "generate": reference_generation(model, folder, generator),
            "topCandidates": reference_candidates(model, generator),
            "gradient": reference_gradient(model, generator),
            "scores": reference_scores(model, generator),
        }
        for part in ("generate", "topCandidates"):
            assert reference[part]["minMargin"] > MIN_MARGIN, f"{name}: {part} decided by a margin under {MIN_MARGIN}"
        (folder / "reference.json").write_text(json.dumps(reference, separators=(",", ":")) + "\n")
        manifest["models"][name] = {"architecture": reference["architecture"], "parameters": reference["parameterCount"]}
        print(f"{name}: {reference['parameterCount']} parameters, generate margin {reference['generate']['minMargin']:.4f}")

        if name == "llama-gqa-rope3-tied":
            # The same weights again, sharded (index path) and with a pre-v5 style config.json.
            sharded = OUT / "llama-sharded"
            model.save_pretrained(sharded, safe_serialization=True, max_shard_size="20KB")
            (sharded / "generation_config.json").write_text((folder / "generation_config.json").read_text())
            write_legacy_config(sharded)
            manifest["models"]["llama-sharded"] = {"sameWeightsAs": name}
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
