"""The tags that open a r/WritingPrompts title: "[WP] ...", "[EU][SP] ...", "(CW) ...".

The subreddit's rules make the tag say what kind of prompt it is (writing prompt,
simple prompt, established universe, constrained writing, ...), so rank can choose
which kinds to learn from. Only tags at the start of the title count: a bracket later
on is part of the prompt's text.
"""

import re

# One bracketed group at the start of the title; it may hold several tags ("[WP/EU]").
LEADING_GROUP = re.compile(r"\s*[\[(]\s*([A-Za-z]{2,4}(?:\s*[/,&|]\s*[A-Za-z]{2,4})*)\s*[\])]")
TAG_SEPARATOR = re.compile(r"\s*[/,&|]\s*")


def prompt_tag(title: str) -> str:
    """The leading tags, upper-cased and joined by commas ("WP", "EU,SP"); "" when none."""
    tags: list[str] = []
    position = 0
    while match := LEADING_GROUP.match(title, position):
        tags += [tag.upper() for tag in TAG_SEPARATOR.split(match.group(1))]
        position = match.end()
    return ",".join(dict.fromkeys(tags))
