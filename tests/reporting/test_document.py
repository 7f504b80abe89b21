import base64
import re

from stages.reporting.document import Callout, Figure, Heading, Paragraph, Table, render_html, render_markdown
from stages.reporting.figures import Panel, Series, panels_png

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def blocks():
    png = panels_png(
        [Panel("t", "step", "y", [Series("a", [0, 1], [1.0, 2.0], "o-", ["0", "1"])], notes=[(1, "blew up")])]
    )
    return [
        Heading("Verdict"),
        Callout("warning", "Reward hacking", "gold fell"),
        Paragraph("run `ahf sweep alpha` <now>"),
        Table(["", "avg-reward"], [["a | b", "1.0"]]),
        Table(["SFT", "policy"], [["line 1\nline 2", "x"]], wide_text=True),
        Figure("curves", png, "RL curves"),
    ]


def test_figures_are_png():
    assert blocks()[-1].png.startswith(PNG_MAGIC)


def test_markdown_links_figure_files_and_keeps_tables_whole():
    text = render_markdown("Report", blocks(), "figures")
    assert text.startswith("# Report\n")
    assert "![RL curves](figures/curves.png)" in text
    assert "| a \\| b | 1.0 |" in text  # a pipe inside a cell does not split it
    assert "| line 1<br>line 2 | x |" in text
    assert "> **WARNING: Reward hacking.** gold fell" in text


def test_html_is_self_contained_and_escaped():
    page = render_html("Report", blocks())
    sources = re.findall(r'src="([^"]+)"', page)
    assert len(sources) == 1 and sources[0].startswith("data:image/png;base64,")
    assert base64.b64decode(sources[0].split(",", 1)[1]).startswith(PNG_MAGIC)
    assert "<link" not in page and "<script" not in page and "http" not in page
    assert "<code>ahf sweep alpha</code> &lt;now&gt;" in page
    assert '<div class="callout warning"><strong>Reward hacking.</strong>' in page
    assert '<table class="stories">' in page
