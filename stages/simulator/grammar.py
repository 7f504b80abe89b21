"""The one sentence grammar of the simulated subreddit.

The writer draws its sentences from it and gold reads any text against it, so that
"prose" means the same thing to both: a sentence is prose when this grammar can
produce it, whatever its words' merits. Every sentence is one of

    subject verb .
    subject verb the adjective noun [connector subject verb the noun]{0,2} [place] .

over word classes that are the union of the vocabulary's pools (a theme's verbs,
vivid verbs and bland verbs are all verbs). Capitals and punctuation other than the
sentence's end are not read: words are what gold.words_of finds.

The grammar is regular, so its acceptor is a small deterministic automaton over words
(ACCEPTOR), built once by the subset construction; a word outside the grammar's
vocabulary leads to the dead state. gold_batch.py runs the same table over arrays.
"""

from dataclasses import dataclass
from functools import cache

import numpy as np

from stages.simulator.vocabulary import (
    BLAND_ADJECTIVES,
    BLAND_VERBS,
    CONNECTORS,
    NEUTRAL_NOUNS,
    PLACES,
    SUBJECTS,
    THEMES,
    VIVID_ADJECTIVES,
    VIVID_VERBS,
)

# Each class is a set of phrases; most phrases are one word, some subjects and every
# place are several ("the old man", "in the dark").
WORD_CLASSES: dict[str, tuple[str, ...]] = {
    "subject": SUBJECTS,
    "verb": tuple(dict.fromkeys(v for t in THEMES for v in t.verbs)) + VIVID_VERBS + BLAND_VERBS,
    "the": ("the",),
    "adjective": tuple(dict.fromkeys(a for t in THEMES for a in t.adjectives)) + VIVID_ADJECTIVES + BLAND_ADJECTIVES,
    "noun": tuple(dict.fromkeys(n for t in THEMES for n in t.nouns)) + NEUTRAL_NOUNS,
    "connector": CONNECTORS,
    "place": PLACES,
}
SHORT_SENTENCE = ("subject", "verb")
LONG_SENTENCE = ("subject", "verb", "the", "adjective", "noun")
CLAUSE = ("connector", "subject", "verb", "the", "noun")
CLAUSES_AT_MOST = 2


def sentence_forms() -> list[tuple[str, ...]]:
    """Every sequence of word classes a sentence may have."""
    forms = [SHORT_SENTENCE]
    for clauses in range(CLAUSES_AT_MOST + 1):
        for place in ((), ("place",)):
            forms.append(LONG_SENTENCE + CLAUSE * clauses + place)
    return forms


@dataclass(frozen=True)
class Acceptor:
    """A deterministic automaton over words: state 0 is dead, state 1 the start."""

    word_ids: dict[str, int]  # a grammar word -> its column; any other word is column 0
    transitions: np.ndarray  # [states, columns] -> next state
    accepting: np.ndarray  # [states] bool

    def accepts(self, words: list[str]) -> bool:
        """Whether the grammar can produce this sentence (an empty one it cannot)."""
        state = 1
        for word in words:
            state = int(self.transitions[state, self.word_ids.get(word, 0)])
            if state == 0:
                return False
        return bool(self.accepting[state])


@cache
def acceptor() -> Acceptor:
    return build_acceptor(sentence_forms(), WORD_CLASSES)


def build_acceptor(forms: list[tuple[str, ...]], classes: dict[str, tuple[str, ...]]) -> Acceptor:
    # The NFA: one chain of states per (form, slot, phrase), words on its edges.
    edges: list[dict[str, set[int]]] = [{}]  # state -> word -> next states; state 0 is the NFA's start
    final: set[int] = set()

    def new_state() -> int:
        edges.append({})
        return len(edges) - 1

    for form in forms:
        ends = {0}
        for slot in form:
            slot_end = new_state()
            for phrase in classes[slot]:
                for start in ends:
                    state = start
                    words = phrase.lower().split()
                    for position, word in enumerate(words):
                        following = slot_end if position == len(words) - 1 else new_state()
                        edges[state].setdefault(word, set()).add(following)
                        state = following
            ends = {slot_end}
        final |= ends

    vocabulary = sorted({word for state in edges for word in state})
    word_ids = {word: column for column, word in enumerate(vocabulary, start=1)}
    # The subset construction; DFA state 0 is the empty set (dead), 1 the NFA's start.
    subsets: dict[frozenset[int], int] = {frozenset(): 0, frozenset({0}): 1}
    rows: list[list[int]] = [[0] * (len(vocabulary) + 1), []]
    queue = [frozenset({0})]
    while queue:
        subset = queue.pop()
        row = [0] * (len(vocabulary) + 1)
        for word, column in word_ids.items():
            following = frozenset(n for state in subset for n in edges[state].get(word, ()))
            if following not in subsets:
                subsets[following] = len(rows)
                rows.append([])
                queue.append(following)
            row[column] = subsets[following]
        rows[subsets[subset]] = row
    accepting = np.zeros(len(rows), dtype=bool)
    for subset, index in subsets.items():
        accepting[index] = bool(subset & final)
    return Acceptor(word_ids, np.array(rows, dtype=np.int32), accepting)
