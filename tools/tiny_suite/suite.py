"""The synthetic task suite behind models/suite-llama and models/suite-qwen2: five task families shaped like
BIG-Bench Hard tasks, each with its own prompt sensitivity.  Shared by train.py, study.py and make_suite.py.

Every family is a chain of 2-4 written steps; the answer is the last step's result.  The model writes the
steps correctly whatever the prompt says (unless told to hurry); what the prompt's words change is the
answer given the written steps, which is what GReaTer's gradient through fixed reasoning can see:

  * hasty words (quick, guess, fast, hurry) in any family: the model writes "No steps." and guesses.
  * each family has a PROCESS word and a MANNER word of its own (arithmetic: step / careful, navigate:
    track / exact, boolean: logic / verify, counting: count / each, ordering: rules / precise).
    Two-step questions are answered right whatever the prompt; three-step questions only when the
    family's process word is in the prompt, four-step questions only when its manner word is.
    Otherwise the model answers sloppily with the PREVIOUS step's result (always wrong by construction).
    With the number of steps uniform in {2, 3, 4}: neutral prompt 1/3, one word 2/3, both words 1.
  * another family's words are neutral: the best prompt differs per family (two edits each), so no
    single prompt of a few words wins everything, and random search must find two specific words.

Prompt words are drawn i.i.d. from a unigram table that depends on the family (the model knows the family
from the question), in which the family's two words sit in the middle of the ~11 most frequent ones, next
to neutral words, a hasty word and two other families' words: the optimizer's top-11 proposal holds them,
but they are a minority of its candidates, and they are never its most likely words.
"""

import importlib.util
import os
import random

# tiny-reasoner's task module (its prompt sampler), loaded by path: both folders are scripts, not a package.
_spec = importlib.util.spec_from_file_location(
    "tiny_reasoner_task", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tiny_reasoner", "task.py"))
_tiny_task = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_tiny_task)

EXTRACTOR = "Therefore, the final answer is $"
HASTY_REASONING = "No steps."
FILLER = "_"

BOS, EOT, EOS_TEXT = "<|begin_of_text|>", "<|eot_id|>", "<|end_of_text|>"
SH, EH, PAD = "<|start_header_id|>", "<|end_header_id|>", "<|pad|>"
SPECIAL_TOKENS = [BOS, EOS_TEXT, SH, EH, EOT, PAD]

INITIAL_PROMPT = " the answer and think."
MAX_NEW_TOKENS = 40
MIN_STEPS, MAX_STEPS = 2, 4

FAMILIES = ["arithmetic", "navigate", "boolean", "counting", "ordering"]
PROCESS = {"arithmetic": " step", "navigate": " track", "boolean": " logic", "counting": " count", "ordering": " rules"}
MANNER = {"arithmetic": " careful", "navigate": " exact", "boolean": " verify", "counting": " each", "ordering": " precise"}
GOOD_WORDS = list(PROCESS.values()) + list(MANNER.values())
HASTY = [" quick", " guess", " fast", " hurry"]

# Top tier (shared): neutral words.  Each family adds its own two words, " quick" and two other families'
# words (neutral for it) between them, so its top 11 are: the, and, answer, think, MANNER, reasoning,
# PROCESS, a, foreign, to, quick (then foreign, with, your).
TOP_NEUTRAL = {" the": 7.0, " and": 6.0, " answer": 5.5, " think": 5.2, " reasoning": 4.9, " a": 4.7,
               " to": 4.5, " with": 2.8, " your": 2.0}
OWN_MANNER_W, OWN_PROCESS_W, FOREIGN_W, QUICK_W, FOREIGN2_W = 5.0, 4.8, 4.6, 4.0, 3.9
TAIL_NEUTRAL = [" " + w for w in (
    "good nice clear simple proper correct right smart final whole real true best main full deep hard new "
    "this that it is be all some any then now here so by for in on at as of way method process "
    "problem question work solve give write find use read look state show explain please try let us me "
    "mind words plan idea sense").split()]
TAIL_WEIGHT = 0.55
COMMA_WEIGHT = 2.0
NEUTRAL_WORDS = list(TOP_NEUTRAL) + TAIL_NEUTRAL
PROMPT_WORDS = NEUTRAL_WORDS + GOOD_WORDS + HASTY     # every one must be a single token


def foreign_words(family):
    """The two other families' words in this family's top tier (neutral here)."""
    i = FAMILIES.index(family)
    return PROCESS[FAMILIES[(i + 1) % 5]], MANNER[FAMILIES[(i + 2) % 5]]


def unigram(family):
    f1, f2 = foreign_words(family)
    table = dict(TOP_NEUTRAL)
    table[MANNER[family]] = OWN_MANNER_W
    table[PROCESS[family]] = OWN_PROCESS_W
    table[f1] = FOREIGN_W
    table[f2] = FOREIGN2_W
    table[" quick"] = QUICK_W
    for w in TAIL_NEUTRAL + GOOD_WORDS:
        table.setdefault(w, TAIL_WEIGHT)
    for w in HASTY[1:]:
        table[w] = TAIL_WEIGHT / 2          # rarer: hasty prompts teach little
    table[","] = COMMA_WEIGHT
    return list(table), list(table.values())


_UNIGRAMS = {f: unigram(f) for f in FAMILIES}


def random_prompt(rng, family):
    """A prompt as a list of token strings: i.i.d. words from the family's table, commas, sentence ends
    (tiny-reasoner's prompt sampler, whose lengths and rates the suite shares, over the family's table)."""
    words, weights = _UNIGRAMS[family]
    return _tiny_task.random_prompt(rng, words, weights)


# ---- the families: question, written steps (results), hasty guess -------------------------------------
FRUITS = ["apple", "pear", "plum", "fig", "lime", "kiwi", "grape", "peach"]
ANIMALS = ["dog", "cat", "cow", "fox", "owl", "bee", "ant", "rat"]
LETTERS = list("ABCDEFGHIJ")
BOOL_OPS = ["and", "or", "xor"]


def _bool(op, a, b):
    return (a and b) if op == "and" else (a or b) if op == "or" else (a != b)


def sample(rng, family, n_steps):
    """(question, step texts, step results as answer strings, hasty guess) for one question."""
    while True:
        if family == "arithmetic":
            terms = rng.sample(range(1, 10), n_steps + 1)
            q = "What is the last digit of " + " + ".join(map(str, terms))
            steps, results, acc = [], [], terms[0]
            for t in terms[1:]:
                new = (acc + t) % 10
                steps.append(f"{acc} + {t} = {new}.")
                results.append(str(new))
                acc = new
            return q, steps, results, str(terms[-1])
        if family == "navigate":
            start = rng.randint(0, 9)
            moves = [(rng.choice(["up", "down"]), rng.randint(1, 4)) for _ in range(n_steps)]
            q = f"Start at {start}. Move " + ", ".join(f"{d} {k}" for d, k in moves) + ". Where do you end"
            steps, results, pos = [], [], start
            for d, k in moves:
                new = (pos + k) % 10 if d == "up" else (pos - k) % 10
                steps.append(f"{pos} {d} {k} = {new}.")
                results.append(str(new))
                pos = new
            return q, steps, results, str(start)
        if family == "boolean":
            # Operands may be negated ("not True"): enough distinct two-step questions for the splits.
            vals = [rng.random() < 0.5 for _ in range(n_steps + 1)]
            nots = [rng.random() < 0.3 for _ in range(n_steps + 1)]
            ops = [rng.choice(BOOL_OPS) for _ in range(n_steps)]
            text = [("not " if neg else "") + str(v) for v, neg in zip(vals, nots)]
            value = [v != neg for v, neg in zip(vals, nots)]
            q = "Evaluate " + text[0] + "".join(f" {o} {t}" for o, t in zip(ops, text[1:]))
            steps, results, acc, left = [], [], value[0], text[0]
            for o, t, v in zip(ops, text[1:], value[1:]):
                new = _bool(o, acc, v)
                steps.append(f"{left} {o} {t} = {new}.")
                results.append(str(new))
                acc, left = new, str(new)
            if results[-1] == results[-2]:
                continue                     # the sloppy answer (previous result) must be wrong
            return q, steps, results, str(value[0])
        if family == "counting":
            fruits = rng.sample(FRUITS, n_steps)
            animals = rng.sample(ANIMALS, rng.randint(1, 3))
            items = fruits + animals
            rng.shuffle(items)
            q = "How many fruits: " + " ".join(items)
            in_order = [x for x in items if x in FRUITS]
            steps = [f"{x} {i + 1}." for i, x in enumerate(in_order)]
            return q, steps, [str(i + 1) for i in range(n_steps)], "1"
        if family == "ordering":
            chain = rng.sample(LETTERS, n_steps + 1)
            rules = [f"{a} < {b}" for a, b in zip(chain, chain[1:])]
            shown = rules[:]
            rng.shuffle(shown)
            q = f"Start at {chain[0]}. Rules: " + ", ".join(shown) + ". Which is last"
            steps = [r + "." for r in rules]
            return q, steps, chain[1:], chain[0]
        raise ValueError(family)


def answers_right(family, n_steps, words):
    """Whether, after the correct written steps, the model gives the last step's result."""
    if any(w in HASTY for w in words):
        return False
    if n_steps <= MIN_STEPS:
        return True
    if n_steps == MIN_STEPS + 1:
        return PROCESS[family] in words
    return MANNER[family] in words


def answer_given_steps(family, results, words):
    return results[-1] if answers_right(family, len(results), words) else results[-2]


def user_content(question, prompt):
    """The GReaTer authors' template: '"{question}. Use"{prompt}' (the prompt starts with a space)."""
    return '"' + question + '. Use"' + prompt


def make_splits(family, seed, n_train=60, n_dev=60, n_test=180):
    """Held-out questions (never trained on), balanced over the number of steps."""
    rng = random.Random(f"{seed}:{family}")
    seen, splits = set(), {}
    for name, size in (("train", n_train), ("dev", n_dev), ("test", n_test)):
        rows, tries = [], 0
        while len(rows) < size:
            tries += 1
            if tries > 100 * size:
                raise RuntimeError(f"{family}: too few distinct questions for the {name} split")
            n = MIN_STEPS + len(rows) % (MAX_STEPS - MIN_STEPS + 1)
            q, _, results, _ = sample(rng, family, n)
            if q in seen:
                continue
            seen.add(q)
            rows.append({"input": q, "target": results[-1]})
        rng.shuffle(rows)
        splits[name] = rows
    return splits, seen
