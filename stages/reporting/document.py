"""A report as a list of blocks, rendered two ways: Markdown (figures as PNG files beside
it) and one self-contained HTML file (figures inlined as base64), so report.html can be
mailed or opened from an artifact store with nothing else around it.

Text may hold `code` spans, the only inline markup, which both renderers understand.
"""

import base64
import html
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    wide_text: bool = False  # cells are stories: top-aligned, wrapped, no numeric alignment


@dataclass(frozen=True)
class Figure:
    name: str  # file stem under the figures folder
    png: bytes
    caption: str


@dataclass(frozen=True)
class Callout:
    level: str  # warning | note | ok
    title: str
    text: str


Block = Heading | Paragraph | Table | Figure | Callout

CALLOUT_MARK = {"warning": "WARNING", "note": "NOTE", "ok": "OK"}
CODE_SPAN = re.compile(r"`([^`]+)`")


def markdown_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def render_markdown(title: str, blocks: list[Block], figures_folder: str) -> str:
    lines = [f"# {title}", ""]
    for block in blocks:
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Paragraph):
            lines += [block.text, ""]
        elif isinstance(block, Callout):
            lines += [f"> **{CALLOUT_MARK[block.level]}: {block.title}.** {block.text}", ""]
        elif isinstance(block, Table):
            lines.append("| " + " | ".join(markdown_cell(cell) for cell in block.header) + " |")
            lines.append("|" + "---|" * len(block.header))
            lines += ["| " + " | ".join(markdown_cell(cell) for cell in row) + " |" for row in block.rows]
            lines.append("")
        elif isinstance(block, Figure):
            lines += [f"![{block.caption}]({figures_folder}/{block.name}.png)", "", f"*{block.caption}*", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def inline_html(text: str) -> str:
    return CODE_SPAN.sub(r"<code>\1</code>", html.escape(text, quote=False))


STYLE = """
body { font: 15px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328;
       max-width: 1000px; margin: 2em auto; padding: 0 1.5em; }
h1 { font-size: 1.9em; margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 0.2em; margin-top: 1.8em; }
code { background: #f0f2f4; padding: 0.1em 0.3em; border-radius: 4px; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.8em 0; }
th, td { border: 1px solid #d0d7de; padding: 0.3em 0.7em; text-align: right; }
th { background: #f6f8fa; }
td:first-child, th:first-child { text-align: left; }
table.stories td, table.stories th { text-align: left; vertical-align: top; white-space: pre-wrap; width: 50%; }
table.stories td { font-size: 0.92em; }
figure { margin: 1em 0; }
figure img { max-width: 100%; }
figcaption { color: #59636e; font-size: 0.92em; }
.callout { border-left: 6px solid; padding: 0.6em 1em; margin: 1em 0; border-radius: 4px; }
.callout.warning { border-color: #cf222e; background: #ffebe9; }
.callout.note { border-color: #bf8700; background: #fff8c5; }
.callout.ok { border-color: #1a7f37; background: #dafbe1; }
"""


def render_html(title: str, blocks: list[Block]) -> str:
    parts = [
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>',
        f"<style>{STYLE}</style>\n</head>\n<body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"<h{block.level}>{inline_html(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            parts.append(f"<p>{inline_html(block.text)}</p>")
        elif isinstance(block, Callout):
            parts.append(
                f'<div class="callout {block.level}"><strong>{html.escape(block.title)}.</strong> '
                f"{inline_html(block.text)}</div>"
            )
        elif isinstance(block, Table):
            css = ' class="stories"' if block.wide_text else ""
            header = "".join(f"<th>{inline_html(cell)}</th>" for cell in block.header)
            rows = "".join(
                "<tr>" + "".join(f"<td>{inline_html(cell)}</td>" for cell in row) + "</tr>" for row in block.rows
            )
            parts.append(f"<table{css}><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(block, Figure):
            data = base64.b64encode(block.png).decode("ascii")
            parts.append(
                f'<figure><img alt="{html.escape(block.caption)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{inline_html(block.caption)}</figcaption></figure>"
            )
    parts.append("</body>\n</html>\n")
    return "\n".join(parts)
