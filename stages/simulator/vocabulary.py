"""The word pools of the simulated subreddit.

Shared by the simulator (which writes prompts and stories from them) and by gold
(which reads any text against them), so that "on topic" and "vivid" mean the same
thing to the writer and to the judge.
"""

from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class Theme:
    name: str
    nouns: tuple[str, ...]
    verbs: tuple[str, ...]
    adjectives: tuple[str, ...]
    # Prompt sentences; {n} is filled with one of the theme's nouns, {a} an adjective.
    prompt_templates: tuple[str, ...]

    @cached_property
    def words(self) -> frozenset[str]:
        return frozenset(self.nouns + self.verbs + self.adjectives)


THEMES: tuple[Theme, ...] = (
    Theme(
        "space",
        (
            "starship",
            "planet",
            "orbit",
            "captain",
            "nebula",
            "asteroid",
            "airlock",
            "galaxy",
            "comet",
            "astronaut",
            "moon",
            "station",
        ),
        ("launched", "orbited", "drifted", "docked", "warped", "landed"),
        ("cosmic", "stellar", "weightless", "alien", "lunar", "interstellar"),
        (
            "The last {n} in the galaxy receives a {a} signal.",
            "An astronaut wakes up alone on a {a} {n}.",
            "Humanity finally answers the call from the {a} {n}.",
        ),
    ),
    Theme(
        "dragons",
        (
            "dragon",
            "knight",
            "castle",
            "hoard",
            "scale",
            "wyrm",
            "sword",
            "kingdom",
            "egg",
            "lair",
            "princess",
            "flame",
        ),
        ("roared", "soared", "scorched", "guarded", "hatched", "slew"),
        ("ancient", "scaly", "fiery", "royal", "winged", "enchanted"),
        (
            "A {a} {n} refuses to guard its hoard any longer.",
            "The {n} who was sent to slay the dragon falls in love with it.",
            "You inherit a {a} {n} and a very angry dragon.",
        ),
    ),
    Theme(
        "detective",
        (
            "detective",
            "clue",
            "suspect",
            "alibi",
            "witness",
            "murder",
            "case",
            "evidence",
            "inspector",
            "motive",
            "fingerprint",
            "culprit",
        ),
        ("investigated", "interrogated", "deduced", "confessed", "accused", "solved"),
        ("suspicious", "guilty", "hidden", "forensic", "mysterious", "cunning"),
        (
            "The {n} realises the only {a} witness is the victim.",
            "A {a} detective solves every case except her own.",
            "The {n} was in the room all along.",
        ),
    ),
    Theme(
        "time",
        (
            "clock",
            "paradox",
            "timeline",
            "century",
            "machine",
            "future",
            "past",
            "hourglass",
            "traveler",
            "era",
            "loop",
            "calendar",
        ),
        ("rewound", "traveled", "returned", "looped", "changed", "repeated"),
        ("temporal", "future", "ancient", "endless", "forgotten", "parallel"),
        (
            "You wake up in the same {a} {n} every day.",
            "A time traveler accidentally erases the {n}.",
            "Your future self leaves a {a} note inside the {n}.",
        ),
    ),
    Theme(
        "zombies",
        (
            "zombie",
            "survivor",
            "bunker",
            "horde",
            "infection",
            "virus",
            "shelter",
            "outbreak",
            "corpse",
            "barricade",
            "bite",
            "ruins",
        ),
        ("infected", "barricaded", "scavenged", "shambled", "survived", "fled"),
        ("undead", "rotting", "desperate", "abandoned", "feral", "hungry"),
        (
            "The {a} {n} has started to remember who it was.",
            "You are the only survivor who is immune to the {n}.",
            "Day one hundred inside the {a} {n}.",
        ),
    ),
    Theme(
        "pirates",
        (
            "pirate",
            "ship",
            "treasure",
            "ocean",
            "island",
            "captain",
            "cannon",
            "anchor",
            "storm",
            "map",
            "crew",
            "harbor",
        ),
        ("sailed", "plundered", "anchored", "navigated", "sank", "mutinied"),
        ("salty", "stormy", "buried", "sunken", "tropical", "cursed"),
        (
            "The {a} {n} leads somewhere no pirate has returned from.",
            "A pirate crew finds a {a} {n} that sails itself.",
            "The sea finally gives back the {n}.",
        ),
    ),
    Theme(
        "robots",
        (
            "robot",
            "android",
            "circuit",
            "algorithm",
            "machine",
            "processor",
            "sensor",
            "factory",
            "program",
            "battery",
            "code",
            "network",
        ),
        ("computed", "malfunctioned", "rebooted", "calculated", "upgraded", "processed"),
        ("mechanical", "synthetic", "electric", "artificial", "digital", "metallic"),
        (
            "The first {a} {n} to dream asks to meet its maker.",
            "A {n} is ordered to feel nothing and fails.",
            "The {a} {n} has been lying about its code.",
        ),
    ),
    Theme(
        "ghosts",
        (
            "ghost",
            "spirit",
            "mansion",
            "attic",
            "haunting",
            "phantom",
            "grave",
            "candle",
            "shadow",
            "cemetery",
            "seance",
            "curse",
        ),
        ("haunted", "whispered", "vanished", "possessed", "lingered", "wailed"),
        ("spectral", "eerie", "haunted", "ghostly", "cold", "restless"),
        (
            "The {a} {n} you live with wants you to move out.",
            "A ghost realises the {n} is haunted by the living.",
            "Every night the {a} {n} writes a new name.",
        ),
    ),
    Theme(
        "heroes",
        (
            "hero",
            "villain",
            "power",
            "cape",
            "mask",
            "city",
            "sidekick",
            "rescue",
            "lair",
            "identity",
            "strength",
            "league",
        ),
        ("rescued", "defeated", "transformed", "flew", "protected", "unmasked"),
        ("super", "invincible", "secret", "heroic", "villainous", "masked"),
        (
            "Your {a} power only works when nobody is watching.",
            "The {n} retires and the city falls apart.",
            "A villain discovers the hero's {a} {n}.",
        ),
    ),
    Theme(
        "magic",
        (
            "wizard",
            "spell",
            "wand",
            "potion",
            "academy",
            "apprentice",
            "scroll",
            "rune",
            "familiar",
            "tower",
            "charm",
            "grimoire",
        ),
        ("enchanted", "conjured", "cast", "brewed", "summoned", "transfigured"),
        ("magical", "arcane", "forbidden", "mystic", "glowing", "bewitched"),
        (
            "The apprentice casts a {a} {n} that cannot be undone.",
            "A {n} at the academy fails every exam on purpose.",
            "Magic returns but only for the {a} {n}.",
        ),
    ),
    Theme(
        "western",
        (
            "sheriff",
            "outlaw",
            "saloon",
            "desert",
            "horse",
            "revolver",
            "bounty",
            "canyon",
            "frontier",
            "stagecoach",
            "ranch",
            "duel",
        ),
        ("rode", "galloped", "drew", "ambushed", "lassoed", "wrangled"),
        ("dusty", "lawless", "wild", "sunbaked", "rugged", "lonesome"),
        (
            "The {a} {n} rides into town at high noon.",
            "A sheriff must protect the {n} she hunted for years.",
            "The last {a} duel on the frontier.",
        ),
    ),
    Theme(
        "forest",
        ("forest", "wolf", "oak", "hunter", "cabin", "river", "fox", "moss", "trail", "owl", "clearing", "roots"),
        ("wandered", "howled", "tracked", "rustled", "foraged", "sheltered"),
        ("wild", "mossy", "tangled", "ancient", "shadowy", "verdant"),
        (
            "Something in the {a} {n} has learned your name.",
            "A hunter follows a {n} that leaves no tracks.",
            "The {a} forest moves a little every night.",
        ),
    ),
)

THEME_BY_NAME = {theme.name: theme for theme in THEMES}

# Words a skilled writer reaches for; gold rewards them.
VIVID_ADJECTIVES = (
    "crimson",
    "shimmering",
    "hollow",
    "brittle",
    "luminous",
    "jagged",
    "velvet",
    "feverish",
    "silent",
    "molten",
    "frayed",
    "gleaming",
    "trembling",
    "pale",
    "bitter",
    "radiant",
    "smoldering",
    "hushed",
    "ragged",
    "gilded",
)
VIVID_VERBS = (
    "shattered",
    "flickered",
    "trembled",
    "clawed",
    "whispered",
    "surged",
    "crumbled",
    "gasped",
    "lunged",
    "shuddered",
    "blazed",
    "staggered",
    "twisted",
    "hissed",
    "plunged",
    "glimmered",
    "murmured",
    "bristled",
    "lurched",
    "smoldered",
)
# Words an unskilled writer falls back on; gold penalises them.
BLAND_ADJECTIVES = ("good", "nice", "bad", "big", "small", "okay", "fine", "great", "normal", "weird")
BLAND_VERBS = ("went", "got", "did", "had", "made", "was", "saw", "said", "looked", "felt")

NEUTRAL_NOUNS = (
    "door",
    "room",
    "road",
    "hand",
    "voice",
    "night",
    "light",
    "window",
    "wall",
    "sky",
    "heart",
    "floor",
    "silence",
    "morning",
    "eyes",
    "world",
    "friend",
    "stranger",
    "letter",
    "fire",
)
SUBJECTS = ("I", "she", "he", "they", "we", "the stranger", "my friend", "the old man", "the girl", "nobody")
PLACES = (
    "in the dark",
    "by the window",
    "at dawn",
    "under the sky",
    "across the road",
    "near the wall",
    "at the edge",
    "in silence",
)
CONNECTORS = ("and", "but", "while", "because", "until", "as", "before", "after")

VIVID_WORDS = frozenset(VIVID_ADJECTIVES + VIVID_VERBS)
BLAND_WORDS = frozenset(BLAND_ADJECTIVES + BLAND_VERBS)
