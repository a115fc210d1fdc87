"""The language model a menu grammar compiles to for pocketsphinx.

Why not a plain phrase list: callers rarely say a bare phrase. They say
"I'd like to check my balance please", "press two", "can I talk to a
person". With only the phrases and a bag of single filler words in the
model, every word of such a sentence is decoded in isolation, and the
heavily weighted phrases win over the fillers: "could you check my balance
for me" came out as "could human check my balance four me". So the model is
trained on a small corpus that says how callers actually speak:

* each phrase alone (the most likely answer, at ``phrase_weight``);
* each phrase inside carrier frames ("i want to _", "press _", "_ please"),
  so the words around a phrase are decoded as the ordinary words they are;
* everyday sentences and words with no phrase in them, the garbage model
  that unrelated speech decodes to (no match) instead of being forced onto
  a phrase;
* hesitations said alone ("hmm", "um"), a common utterance at a menu
  (``hesitation_weight``, about a third of a phrase's weight by default):
  with them only in the bag of filler words, "um, lost card" decoded as a
  sentence and some hums as "agent" or "two".

The frames were written from the benchmark's TUNING sentences and general
knowledge of how callers phrase a choice; none is taken from its held-out
sentences. Digit grammars keep their own digit-loop corpus.
"""

from __future__ import annotations

from ivr.speech.grammar import SPOKEN_DIGITS, Grammar

FILLER_WORDS: tuple[str, ...] = tuple("""
a about after again all also am an and any are as ask at back be because been but by call can
could day did do does don't for from get give go going good got had has have he hello help her
here hi him his how i i'm if in is it it's just know like look make me more much need new no not
now of off okay on or other our out over please put right said say see she should so some speak
still talk tell than thank thanks that the their them then there these they thing think this time
to today up us very want was way we well were what when where which who why will with would yeah
yes yet you your morning evening night week year home work car house water food money name number
people place phone problem question service account order pay bill send check open close find buy
sell wait wrong sorry hear hey sure maybe never always my i'd i'll you're we're can't didn't
press option calling called um uh er oh ah hmm mm actually really first last next little long great
""".split())
"""Everyday words that compete with the grammar as an out-of-grammar model."""

HESITATIONS: tuple[str, ...] = ("hmm", "um", "uh", "er", "ah", "mm")
"""What callers say while they think; never an answer (the recogniser drops them from its text)."""

HESITATION_SENTENCES: tuple[str, ...] = ("hmm let me see", "let me see", "uh let me think", "mm hmm")
"""Thinking aloud without choosing anything (written from the benchmark's TUNING hesitations)."""

CARRIERS: tuple[str, ...] = (
    "_ please", "_ thanks", "_ thank you", "um _", "uh _", "hmm _", "yes _", "yeah _", "okay _", "oh _",
    "i want _", "i want to _", "i'd like _", "i'd like to _", "i'd like to _ please", "i need _",
    "i need to _", "i think _", "i'm calling about _", "i'm calling about my _", "it's about _",
    "it's about my _", "about my _", "my _", "the _", "a _", "my _ please", "can you tell me _",
    "can i _", "can i get _", "how do i _", "what are your _", "what about _", "i have a question about _",
    "press _", "option _", "number _", "i'll press _", "i want to speak to _", "i want to speak to _ please",
    "can i talk to _", "can i speak to _", "get me _",
)
"""Ways callers wrap a phrase (``_``), as sentences of the corpus."""

EVERYDAY_SENTENCES: tuple[str, ...] = (
    "good morning", "hello", "hello is anybody there", "can you hear me",
    "hold on a second", "i'm not sure", "what did you say", "sorry i didn't get that",
    "i don't know", "what time is it", "how are you today", "i need to change my address",
    "how do i reset my password", "my internet is not working", "where is the nearest station",
    "tell me a joke", "what's the weather today", "i want to order something",
    "that's all", "i have a problem with my phone", "can you say that again", "just a minute",
    "the weather is nice today", "we went to the park last week", "my name is on the letter",
    "i was going to call you back", "i think it was on monday", "there is a problem with the house",
    "we need more water and food", "where do i send it", "is it open on sunday", "yes please",
    "no that's wrong", "i will wait", "who am i talking to",
)
"""Sentences with no phrase of a typical menu in them: what unrelated speech decodes to."""

DIGIT_SOUNDALIKES = frozenset(
    "want to for won't free tree ate eight sex fine nice no oh so then when on an was".split())
"""Words that sound like digits and would swallow them ("one" -> "want") in a digit grammar."""


def corpus(grammar: Grammar, phrase_weight: int, carrier_weight: int, compound: bool,
           hesitation_weight: int = 0) -> list[str]:
    """The training sentences of ``grammar``'s language model (one per line).

    Args:
        phrase_weight: copies of each phrase said alone.
        carrier_weight: copies of each phrase in each carrier frame (0: no frames).
        compound: each multi-word phrase is one token (``lost_card``), heard whole or not at all.
        hesitation_weight: copies of each hesitation said alone, and of each hesitation
            sentence (0: only the filler words).
    """
    lines: list[str] = []
    if grammar.digits:
        digit_words = list(SPOKEN_DIGITS)
        for a in digit_words:
            lines += [f"{a} {b}" for b in digit_words] * max(1, phrase_weight // 5)
        own = set(grammar.words()) | DIGIT_SOUNDALIKES
        return lines + [w for w in FILLER_WORDS if w not in own]
    tokens = [p.replace(" ", "_") if compound else p for p in grammar.phrases]
    lines += [tok for tok in tokens for _ in range(phrase_weight)]
    if carrier_weight:
        for frame in CARRIERS:
            lines += [frame.replace("_", tok) for tok in tokens for _ in range(carrier_weight)]
    own = set(grammar.words())
    phrases = grammar.phrases
    lines += [s for s in EVERYDAY_SENTENCES if not any(f" {p} " in f" {s} " for p in phrases)]
    if hesitation_weight:
        lines += [h for h in HESITATIONS if h not in own for _ in range(hesitation_weight)]
        lines += [s for s in HESITATION_SENTENCES if not any(f" {p} " in f" {s} " for p in phrases)
                  for _ in range(hesitation_weight)]
    lines += [w for w in FILLER_WORDS if w not in own]
    return lines
