"""Builds test/fixtures/tokenizers/mistral/: the real Mistral-7B (v0.1) tokenizer with the [INST] chat template of
Mistral-7B-Instruct, as a Hugging Face tokenizer.json, for tests of [INST]-style layouts.

No weights or hub access are needed: the SentencePiece model (tokenizer.model.v1, Mistral's own file) comes from the
mistral-common wheel on PyPI, pinned by version and by the model file's SHA-256. It is converted to tokenizer.json in
the hub's legacy layout of Mistral-7B-Instruct-v0.1/v0.2 (a Prepend("▁") normalizer, so every text segment between
special tokens starts with "▁": "<s>[INST]" encodes as <s>, "▁[", "INST", "]"), and each encoding is checked against
SentencePiece's own on the shipped data before anything is written.

Needs (in a virtual environment, not the system python): tokenizers, transformers, sentencepiece, protobuf, pip.
Usage: python tools/make_mistral_tokenizer.py   (writes tokenizer.json, tokenizer_config.json, special_tokens_map.json)
"""
import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "test", "fixtures", "tokenizers", "mistral")
WHEEL = "mistral-common==1.12.0"
MODEL_IN_WHEEL = "mistral_common/data/tokenizer.model.v1"
MODEL_SHA256 = "dadfd56d766715c61d2ef780a525ab43b8e6da4de6865bda3d95fdef5e134055"

# Mistral-7B-Instruct's template: BOS once, user turns as "[INST] ... [/INST]", assistant turns closed by EOS.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)


def fetch_model(scratch):
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--retries", "0", "--timeout", "5",
                    "--quiet", "-d", scratch, WHEEL], check=True)
    wheel = glob.glob(os.path.join(scratch, "mistral_common-*.whl"))[0]
    with zipfile.ZipFile(wheel) as z:
        data = z.read(MODEL_IN_WHEEL)
    digest = hashlib.sha256(data).hexdigest()
    if digest != MODEL_SHA256:
        sys.exit(f"make_mistral_tokenizer: {MODEL_IN_WHEEL} has sha256 {digest}, expected {MODEL_SHA256}")
    path = os.path.join(scratch, "tokenizer.model.v1")
    with open(path, "wb") as f:
        f.write(data)
    return path


def build_tokenizer(model_path):
    from tokenizers import AddedToken, Tokenizer, decoders, normalizers, processors
    from tokenizers.models import BPE
    from transformers.convert_slow_tokenizer import SentencePieceExtractor

    extractor = SentencePieceExtractor(model_path)
    kwargs = extractor.extract(BPE)
    tokenizer = Tokenizer(BPE(vocab=kwargs["vocab"], merges=kwargs["merges"], unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tokenizer.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in ("<unk>", "<s>", "</s>")])
    tokenizer.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tokenizer.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)])
    return tokenizer


def check_against_sentencepiece(tokenizer, model_path):
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_file=model_path)
    texts = []
    for path in sorted(glob.glob(os.path.join(REPO, "data", "bbh", "*.csv")))[:8]:
        with open(path, encoding="utf-8") as f:
            texts.append(f.read()[:4000])
    texts += ["Hello world", "  two leading spaces", "tabs\tand\nnewlines\n\n", "naïve café 東京 🙂", "x" * 50, "12345 + 678 = 13023"]
    for text in texts:
        ours = tokenizer.encode(text, add_special_tokens=False).ids
        theirs = sp.encode(text)
        if ours != theirs:
            first = next(i for i, (a, b) in enumerate(zip(ours + [None], theirs + [None])) if a != b)
            sys.exit(f"make_mistral_tokenizer: encoding differs from SentencePiece at token {first} of {text[:40]!r}")
    return len(texts)


def main():
    with tempfile.TemporaryDirectory() as scratch:
        model_path = fetch_model(scratch)
        tokenizer = build_tokenizer(model_path)
        checked = check_against_sentencepiece(tokenizer, model_path)
    os.makedirs(OUT, exist_ok=True)
    tokenizer.save(os.path.join(OUT, "tokenizer.json"))
    config = {
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": None,
        "legacy": True,
        "clean_up_tokenization_spaces": False,
        "model_max_length": 32768,
        "tokenizer_class": "LlamaTokenizer",
        "chat_template": CHAT_TEMPLATE,
        "source": f"{WHEEL} {MODEL_IN_WHEEL} sha256 {MODEL_SHA256}, converted by tools/make_mistral_tokenizer.py",
    }
    with open(os.path.join(OUT, "tokenizer_config.json"), "w") as f:
        json.dump(config, f, indent=2, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(OUT, "special_tokens_map.json"), "w") as f:
        json.dump({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}, f, indent=2)
        f.write("\n")
    print(f"wrote {OUT} (vocab {tokenizer.get_vocab_size()}; {checked} texts encode as SentencePiece does)")


if __name__ == "__main__":
    main()
