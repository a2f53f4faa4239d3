"""Writes a tiny random-weight Mistral with the real Mistral-7B tokenizer and Mistral-Instruct's [INST] chat template
(test/fixtures/tokenizers/mistral) into OUT_DIR, for the test that runs GReaTer steps through that template
(test/optimizer/inst-template.test.ts makes it on the fly, in the tests' Python environment).

The weights are random (seeded); the vocabulary is the tokenizer's 32,000 ids with a hidden size of 16 and tied
embeddings, so the folder stays about 2 MB. Usage: python tools/make_tiny_mistral_chat.py OUT_DIR
"""
import shutil
import sys
from pathlib import Path

import torch
from transformers import MistralConfig, MistralForCausalLM

REPO = Path(__file__).resolve().parent.parent
TOKENIZER = REPO / "test" / "fixtures" / "tokenizers" / "mistral"


def main() -> None:
    out = Path(sys.argv[1])
    torch.manual_seed(7)
    config = MistralConfig(vocab_size=32000, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
                           num_key_value_heads=1, head_dim=8, max_position_embeddings=1024, sliding_window=None,
                           tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=None, dtype="float32")
    model = MistralForCausalLM(config)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.5)
            else:
                p.normal_(1.0, 0.1)  # norm weights near one, as trained models have them
    model.save_pretrained(out, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(TOKENIZER / name, out / name)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
