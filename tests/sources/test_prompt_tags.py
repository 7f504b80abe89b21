import pytest

from stages.sources.prompt_tags import prompt_tag


@pytest.mark.parametrize(
    ("title", "tag"),
    [
        ("[WP] The moon is late", "WP"),
        ("[ wp ]lower case and spaces", "WP"),
        ("(CW) Parentheses count too", "CW"),
        ("[EU][SP] Two groups", "EU,SP"),
        ("[WP/EU] Two tags in one group", "WP,EU"),
        ("[WP] [WP] Said twice", "WP"),
        ("No tag, then [WP] later", ""),
        ("[a sentence in brackets] is not a tag", ""),
        ("", ""),
    ],
)
def test_leading_tags_are_parsed_and_nothing_else(title, tag):
    assert prompt_tag(title) == tag
