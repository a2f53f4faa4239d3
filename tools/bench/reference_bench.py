#!/usr/bin/env python3
"""The reference side of the bench suite: the same measurements as bench/ours.mjs, made the authors' way with
transformers (tools/reference/greater_step.py), in a process of its own so that its peak memory is its own.

bench/run.mjs writes a job file and runs   python3 tools/bench/reference_bench.py JOB.json OUT.json
The job (the same file bench/ours.mjs gets) names the model folder, device, dtype, thread count, the workload file
(token ids and spans built by the project's text layer, so both sides do exactly the same work) and the kind:
  load   load the model; report the load time and the process's peak memory
  micro  those of forward log-probs for a batch, greedy generation at several batch sizes and the one-hot gradient
         that the job's `measure` names
  step   one full GReaTer step (tools/reference/greater_step.py's greater_step) on the loaded model
The process first warms up (when the job says so: one short generation, untimed), then each measurement runs its
`iterations` timed calls; the result holds every sample (ms).

Peak memory is the process's peak resident set (VmHWM, or getrusage's ru_maxrss off Linux); on CUDA also
torch.cuda.max_memory_allocated / reserved. On CUDA, torch's default device is set to the model's device so that
greater_step.py's tensors (built without a device, as on CPU) land beside the model, as the authors' code places
them with .to(model.device).
"""

import copy
import json
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "reference"))
from greater_step import DEFAULTS, Text, greater_step, one_hot_gradient  # noqa: E402
from mulberry32 import Mulberry32  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def peak_rss_mib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synchronize(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(device, call):
    synchronize(device)
    start = time.perf_counter()
    value = call()
    synchronize(device)
    return (time.perf_counter() - start) * 1000, value


def sample(device, call, iterations):
    samples = []
    for _ in range(iterations):
        ms, _ = timed(device, call)
        samples.append(ms)
    return samples


def load_model(job):
    dtype = DTYPES[job["dtype"]]
    device = job["device"]
    model = AutoModelForCausalLM.from_pretrained(job["modelDir"], dtype=dtype)
    model.to(device)
    model.eval()
    synchronize(device)
    return model


def left_padded(rows, pad):
    width = max(len(r) for r in rows)
    ids = torch.tensor([[pad] * (width - len(r)) + list(r) for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    return ids, mask


# ------------------------------------------------------------------------------------------------------------
# The measurements

@torch.no_grad()
def forward_log_probs(model, rows, pad):
    """Log-probability of every token after the first, for a left-padded batch (greater_step.py's score_rows)."""
    ids, mask = left_padded(rows, pad)
    logits = model(input_ids=ids, attention_mask=mask).logits.float()   # [batch, width, vocab]
    log_probs = F.log_softmax(logits[:, :-1], dim=-1)                     # predicts columns 1..width-1
    picked = log_probs.gather(2, ids[:, 1:].unsqueeze(2)).squeeze(2)      # [batch, width - 1]
    return [picked[b, ids.shape[1] - len(r):].tolist() for b, r in enumerate(rows)]


@torch.no_grad()
def generate_fixed(model, prompts, new_tokens, pad):
    """Greedy model.generate of exactly new_tokens per row (end-of-sequence ignored, as ours' ignoreEos)."""
    ids, mask = left_padded(prompts, pad)
    config = copy.deepcopy(model.generation_config)
    config.eos_token_id = None
    out = model.generate(input_ids=ids, attention_mask=mask, generation_config=config, max_new_tokens=new_tokens,
                         min_new_tokens=None, do_sample=False, pad_token_id=pad)
    if out.shape[1] - ids.shape[1] != new_tokens:
        raise RuntimeError(f"generate made {out.shape[1] - ids.shape[1]} tokens per row, expected {new_tokens}")
    return out


def gradient_per_example(model, rows, candidates, temperature, control_weight):
    """The authors' token_gradients: one forward/backward per example, gradients summed."""
    summed = None
    for row in rows:
        grad, _ = one_hot_gradient(model, row["ids"], row["position"], candidates,
                                   (row["answerSpan"]["start"], row["answerSpan"]["end"]),
                                   (row["promptSpan"]["start"], row["promptSpan"]["end"]), temperature, control_weight)
        summed = grad if summed is None else summed + grad
    return summed


def run_micro(job, model, workload):
    device, measure = job["device"], job["measure"]
    pad = workload["padTokenId"]
    figures = {}
    if job["warmup"]:   # first calls pay for thread pools and allocator growth; neither side is timed on them
        generate_fixed(model, workload["prefixes"][:1], 2, pad)
    rows = [r["ids"] for r in workload["forwardRows"]]
    if "forward_logprobs" in measure:
        figures["forward_logprobs"] = {"samplesMs": sample(device, lambda: forward_log_probs(model, rows, pad),
                                                           job["iterations"]["forward"]),
                                       "rows": len(rows), "tokens": sum(len(r) for r in rows)}
    for spec in (g for g in job["generate"] if g["name"] in measure):   # prompts: the workload's prefixes, cycled
        prompts = [workload["prefixes"][i % len(workload["prefixes"])] for i in range(spec["batch"])]
        figures[spec["name"]] = {
            "samplesMs": sample(device, lambda: generate_fixed(model, prompts, spec["newTokens"], pad),
                                job["iterations"]["generate"]),
            "rows": spec["batch"], "newTokens": spec["newTokens"]}
    gradient = workload["gradient"]
    grad_rows = gradient["rows"]
    if "one_hot_gradient" in measure:
        figures["one_hot_gradient"] = {
            "samplesMs": sample(device, lambda: gradient_per_example(model, grad_rows, gradient["candidates"],
                                                                     gradient["temperature"], gradient["controlWeight"]),
                                job["iterations"]["gradient"]),
            "rows": len(grad_rows), "candidates": len(gradient["candidates"])}
    return figures


def run_step(job, model):
    step_job = job["step"]
    with open(step_job["dataFile"]) as f:
        data = json.load(f)
    cfg = dict(DEFAULTS)
    cfg.update({k: v for k, v in step_job["config"].items() if k in DEFAULTS})
    cfg["initialPrompt"] = data["initialPrompt"]
    text = Text(job["modelDir"], cfg["userTurnTemplate"])
    stop_ids = text.stop_ids(job["modelDir"], model)
    train = data["train"]
    prompt = text.canonical_prompt(train[0]["question"], text.encode_prompt(cfg["initialPrompt"]))
    rng = Mulberry32(step_job["config"]["seed"])
    log = (lambda msg: print(f"[reference step] {msg}", file=sys.stderr, flush=True)) if job.get("verbose") else (lambda msg: None)
    ms, step = timed(job["device"], lambda: greater_step(model, text, train, data["extractor"], prompt, 0, len(prompt),
                                                         rng, cfg, stop_ids, log))
    return {"ms": ms, "phasesMs": step["timingsMs"], "prompt": prompt,
            "outcome": {"k": step["proposal"]["k"], "candidates": step["proposal"]["candidates"],
                        "ranked": step["ranked"], "chosen": step["chosen"]["token"], "loss": step["loss"]}}


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: reference_bench.py JOB.json OUT.json")
    with open(sys.argv[1]) as f:
        job = json.load(f)
    torch.set_num_threads(job["threads"])
    device = job["device"]
    if device.startswith("cuda"):
        torch.set_default_device(device)
        torch.cuda.reset_peak_memory_stats()
    runtime_mib = peak_rss_mib()
    load_ms, model = timed(device, lambda: load_model(job))
    result = {"side": "reference", "kind": job["kind"], "loadMs": load_ms, "runtimeRssMiB": runtime_mib,
              "torch": torch.__version__, "threads": torch.get_num_threads()}
    result["afterLoadRssMiB"] = peak_rss_mib()
    if job["kind"] == "micro":
        with open(job["workload"]) as f:
            workload = json.load(f)
        result["figures"] = run_micro(job, model, workload)
    elif job["kind"] == "step":
        result["step"] = run_step(job, model)
    elif job["kind"] != "load":
        sys.exit(f"reference_bench: unknown job kind {job['kind']!r} in {sys.argv[1]}")
    result["peakRssMiB"] = peak_rss_mib()
    if device.startswith("cuda"):
        result["cudaPeakAllocatedMiB"] = torch.cuda.max_memory_allocated() / 2**20
        result["cudaPeakReservedMiB"] = torch.cuda.max_memory_reserved() / 2**20
    with open(sys.argv[2], "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
