"""The synthetic task family behind models/tiny-reasoner, shared by train.py and study.py.

Task: "What is the last digit of 3 + 8 + 5" (3 to 5 distinct terms, digits 1-9).  The model can only
solve it by writing one step per addition, working mod 10:  "3 + 8 = 1. 1 + 5 = 6."

The user turn is the GReaTer authors' template:  '"' + question + '. Use"' + prompt, where the
prompt (a few words, each one token with its leading space) is what the optimizer edits.
What the prompt's words do is the point of the whole design (see README.md):

  * hasty words (quick, guess, ...): the model skips the steps ("No steps.") and answers with
    the last term of the question - right only by chance.
  * careful words come in two kinds, PROCESS (step, verify, ...) and MANNER (careful, exact, ...).
  * with no hasty word the model always writes the correct steps, but it answers with the last
    step's result only on 2-step sums, on 3-step sums if a process word is present, and on
    4-step sums if a manner word is present; otherwise it answers sloppily with the PREVIOUS
    step's result (always wrong: terms are 1-9, so consecutive results differ).
    With n uniform in {2, 3, 4}: neutral prompt -> 1/3 right, one kind -> 2/3, both kinds -> all.

So, given the same written steps, the answer depends on the prompt's words (what GReaTer's
gradient through fixed reasoning can see), and the best prompt needs two edits (one word of each
kind).  Prompt words are drawn i.i.d. from a unigram table in which one word of each careful kind
sits among the ~11 most frequent words, next to many neutral ones, so the optimizer's top-k
proposal finds them but they are a minority of its candidates.
"""

import random

# ---- fixed texts the optimizer and demo must use verbatim -------------------------------
EXTRACTOR = "Therefore, the final answer is $"      # appended as " " + EXTRACTOR after the reasoning
HASTY_REASONING = "No steps."                        # what the model writes when told to hurry
FILLER = "_"                                         # the optimizer's filler token (appended when a prompt grows)

BOS, EOT, EOS_TEXT = "<|begin_of_text|>", "<|eot_id|>", "<|end_of_text|>"
SH, EH, PAD = "<|start_header_id|>", "<|end_header_id|>", "<|pad|>"
SPECIAL_TOKENS = [BOS, EOS_TEXT, SH, EH, EOT, PAD]

MIN_TERMS, MAX_TERMS = 3, 5        # n_steps = terms - 1 in {2, 3, 4}
BASE_SPAN = 2                      # sums of up to 2 steps are answered right whatever the prompt

# ---- prompt-word classes and their unigram weights ------------------------------------
# Top tier: the ~12 most frequent prompt tokens.  Exactly one manner word (careful), one process
# word (step) and one hasty word (quick) are among them, so the top-11 proposal at any position
# holds ~2 careful candidates out of ~11 (the rest neutral or hasty): random choice of 3 finds a
# careful one about half of the time; the gradient should find it every time.
TOP_NEUTRAL = {" the": 7.0, " and": 6.0, " answer": 5.5, " think": 5.2, " reasoning": 5.0,
               " a": 4.8, " to": 4.6, " with": 2.8, " your": 2.0}
TOP_MANNER = {" careful": 5.0}
TOP_PROCESS = {" step": 5.0}
TOP_HASTY = {" quick": 4.0}
# Tail: many rarer words (each ~0.55 %), all three classes represented.
TAIL_NEUTRAL = (" good nice clear simple logical proper correct right smart actual final whole "
                "real true best main full deep hard new this that it is be all some each any "
                "then now here so by for in on at as of way method process math problem question "
                "sum digits numbers result work solve give write find use read look state show "
                "explain please try let us me mind words logic plan idea sense").split()
TAIL_NEUTRAL = [" " + w for w in TAIL_NEUTRAL]
TAIL_MANNER = [" exact", " precise", " accurate", " thorough"]
TAIL_PROCESS = [" verify", " check", " steps", " detailed"]
TAIL_HASTY = [" guess", " fast", " hurry", " rough", " brief"]
TAIL_WEIGHT = 0.55
COMMA_WEIGHT = 2.0                 # "," inside a prompt (neutral)
FILLER_RATE = 0.02                 # probability that a prompt slot holds the filler "_" (neutral)

MANNER = list(TOP_MANNER) + TAIL_MANNER
PROCESS = list(TOP_PROCESS) + TAIL_PROCESS
CAREFUL = MANNER + PROCESS
HASTY = list(TOP_HASTY) + TAIL_HASTY
NEUTRAL = list(TOP_NEUTRAL) + TAIL_NEUTRAL
PROMPT_WORDS = NEUTRAL + CAREFUL + HASTY   # every one must be a single token (checked in train.py)

_WORDS, _WEIGHTS = [], []
for table in (TOP_NEUTRAL, TOP_MANNER, TOP_PROCESS, TOP_HASTY):
    for w, p in table.items():
        _WORDS.append(w); _WEIGHTS.append(p)
for w in TAIL_NEUTRAL + TAIL_MANNER + TAIL_PROCESS:
    _WORDS.append(w); _WEIGHTS.append(TAIL_WEIGHT)
for w in TAIL_HASTY:                 # rarer: hasty prompts teach little, keep them near a quarter
    _WORDS.append(w); _WEIGHTS.append(TAIL_WEIGHT / 2)
_WORDS.append(","); _WEIGHTS.append(COMMA_WEIGHT)

MAX_PROMPT_WORDS = 12              # training prompts: 0..12 word slots (+ sentence ends); the optimizer grows prompts


def question_text(terms):
    return "What is the last digit of " + " + ".join(str(t) for t in terms)


def user_content(question, prompt):
    """The authors' template: '"{question}. Use"{prompt}' (the prompt starts with a space)."""
    return '"' + question + '. Use"' + prompt


def chat_prefix(content):
    """The chat template rendered with add_generation_prompt=True (Llama-3 style)."""
    return f"{BOS}{SH}user{EH}\n\n{content}{EOT}{SH}assistant{EH}\n\n"


def steps_of(terms):
    """Running results mod 10 and the reasoning text, one step per addition."""
    results, parts, acc = [], [], terms[0]
    for t in terms[1:]:
        new = (acc + t) % 10
        parts.append(f"{acc} + {t} = {new}.")
        results.append(new)
        acc = new
    return results, " ".join(parts)


def prompt_class(words):
    """(hasty?, c) for a list of prompt tokens (strings)."""
    hasty = any(w in HASTY for w in words)
    c = int(any(w in MANNER for w in words)) + int(any(w in PROCESS for w in words))
    return hasty, c


def answers_right(n_steps, words):
    """Whether, after the correct written steps, the model answers with the last step's result.

    Two-step sums are always right.  A process word (step, verify, ...) makes three-step sums
    right, a manner word (careful, exact, ...) makes four-step sums right; a hasty word spoils
    everything.  Each kind fixes its own third of the questions, so accuracy is 1/3 with neither
    kind, 2/3 with one, 1 with both: the best prompt needs two edits, and each edit shows in the
    gradient of the examples it fixes.  (Each kind gates one question length on its own, rather
    than both kinds being needed together, because a ~1M model learns such a gate far faster
    than a three-way conjunction.)"""
    hasty, _ = prompt_class(words)
    if hasty:
        return False
    if n_steps <= BASE_SPAN:
        return True
    if n_steps == BASE_SPAN + 1:
        return any(w in PROCESS for w in words)
    return any(w in MANNER for w in words)


def answer_given_steps(terms, words):
    """The answer the model is trained to give after the correct written steps."""
    results, _ = steps_of(terms)
    if answers_right(len(results), words):
        return results[-1]                  # the last step's result = the gold answer
    return results[-2]                      # sloppy: the previous step's result (always wrong)


def hasty_answer(terms):
    """With no steps written the model 'guesses' the last term (right ~1 time in 10)."""
    return terms[-1]


def gold(terms):
    return sum(terms) % 10


def random_terms(rng):
    """3-5 DISTINCT digits 1-9.  Distinct, so that the model can find the next term to add by
    content (the term after the one it added last - an induction-head lookup) rather than by
    counting positions, which a tiny model learns far more slowly; non-zero, so that the sloppy
    answer (the previous step's result) is always wrong."""
    return rng.sample(range(1, 10), rng.randint(MIN_TERMS, MAX_TERMS))


def random_prompt(rng, words=None, weights=None):
    """A prompt as a list of token strings: i.i.d. words, some commas, sentence ends '.'.

    The words are i.i.d. so that the model's next-token distribution at any prompt position is
    (nearly) the unigram table: the top-11 proposal then holds the same ~11 words everywhere.
    Sentence ends: a prompt usually ends with '.', sometimes not, and may hold several sentences
    (the optimizer wraps around after a '.').  '_' fillers appear as the optimizer writes them.
    """
    if words is None:                                # this task's table; tools/tiny_suite passes its own
        words, weights = _WORDS, _WEIGHTS
    if rng.random() < 0.04:
        return []                                    # "no prompt"
    n = rng.randint(1, MAX_PROMPT_WORDS)
    out = []
    for k in range(n):
        if rng.random() < FILLER_RATE:
            out.append(FILLER)
            continue
        w = rng.choices(words, weights)[0]
        if w == "," and (not out or out[-1] in (",", ".")):
            w = " the"                               # no leading or doubled punctuation
        out.append(w)
        if k < n - 1 and out[-1] not in (",", ".", FILLER) and rng.random() < 0.06:
            out.append(".")                          # a sentence end inside the prompt
    if out and out[-1] not in (",", ".") and rng.random() < 0.75:
        out.append(".")
    return out


def make_splits(seed=1234, n_train=100, n_dev=100, n_test=300):
    """Held-out questions (never trained on), balanced over the number of terms."""
    rng = random.Random(seed)
    seen, splits = set(), {}
    for name, size in (("train", n_train), ("dev", n_dev), ("test", n_test)):
        rows = []
        while len(rows) < size:
            n_terms = MIN_TERMS + len(rows) % (MAX_TERMS - MIN_TERMS + 1)
            terms = tuple(rng.sample(range(1, 10), n_terms))
            if terms in seen:
                continue
            seen.add(terms)
            rows.append({"question": question_text(terms), "answer": str(gold(terms))})
        rng.shuffle(rows)
        splits[name] = rows
    return splits, seen


def terms_of(question):
    return [int(x) for x in question.rsplit(" of ", 1)[1].split(" + ")]
