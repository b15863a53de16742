"""The review comment as a forge shows it: Markdown rendered to HTML by a CommonMark renderer
with GitHub's extensions the comment uses (raw HTML, tables), in a page styled like a PR
comment, for golden files and screenshots."""

from __future__ import annotations

from markdown_it import MarkdownIt

_GFM = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])

# A small approximation of GitHub's comment styles, enough to judge the look.
STYLE = """
body { font: 14px/1.5 -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif;
       color: #1f2328; background: #fff; margin: 0; }
.comment { max-width: 880px; margin: 16px auto; border: 1px solid #d1d9e0;
           border-radius: 6px; padding: 8px 16px; }
h3 { font-size: 1.25em; margin: 16px 0 8px; } h4 { font-size: 1em; margin: 16px 0 8px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #d1d9e0; padding: 6px 13px; } tr:nth-child(2n) { background: #f6f8fa; }
code { background: #eff1f3; border-radius: 6px; padding: .2em .4em; font-size: 85%;
       font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: #f6f8fa; border-radius: 6px; padding: 16px; overflow: auto; }
pre code { background: none; padding: 0; }
details { margin: 4px 0; } summary { cursor: pointer; }
blockquote { color: #59636e; border-left: .25em solid #d1d9e0; margin: 0; padding: 0 1em; }
hr { border: 0; border-top: 1px solid #d1d9e0; }
"""


def to_html(markdown: str) -> str:
    """The HTML a CommonMark + tables renderer makes of the comment."""
    return _GFM.render(markdown)


def page(markdown: str, title: str) -> str:
    """A whole page with the comment in a PR-comment-like box."""
    return (
        f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{STYLE}</style></head><body><div class='comment'>\n{to_html(markdown)}"
        "</div></body></html>\n"
    )
