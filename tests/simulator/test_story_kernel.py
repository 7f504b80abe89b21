from stages.simulator.story_kernel import MAX_SENTENCE_BYTES, SPANS, WORDS


def longest(*pools: str) -> int:
    return max(len(word) for name in pools for word in WORDS[SPANS[name][0] : sum(SPANS[name])])


def test_the_longest_sentence_the_vocabulary_allows_fits_the_room_a_sentence_has():
    """The compiled writer checks no bounds: a sentence longer than its room would write past the buffer."""
    themes = range(sum(name.startswith("verbs_") for name in SPANS))
    verb = longest("vivid_verbs", "bland_verbs", *(f"verbs_{theme}" for theme in themes))
    adjective = longest("vivid_adjectives", "bland_adjectives", *(f"adjectives_{theme}" for theme in themes))
    noun = longest("neutral_nouns", *(f"nouns_{theme}" for theme in themes))
    subject = longest("subjects", "first_subjects")
    the = len("the ")
    clause = len(" ") + longest("connectors") + len(" ") + subject + len(" ") + verb + len(" ") + the + noun
    sentence = subject + 1 + verb + 1 + the + adjective + 1 + noun + 2 * clause + 1 + longest("places") + len(".")
    assert sentence + len(" ") <= MAX_SENTENCE_BYTES
