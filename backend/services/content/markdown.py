"""Lesson text: Markdown as authors write it, HTML as phones show it, with nothing active in between.

Markdown is read as CommonMark with tables (markdown-it-py); the HTML it makes is then cleaned by
nh3 (ammonia) with an allowlist, so whatever slipped through Markdown (raw HTML blocks, odd links)
is cut there: headings, paragraphs, lists, emphasis, code, quotes, rules, tables, links and images.
No script, style, iframe, SVG, form or event handler reaches a phone, and no ``javascript:`` or
``data:`` URL (entity-encoded or in any case: nh3 decodes before it judges).

- Links keep http, https and mailto URLs and get ``rel="noopener noreferrer"``.
- Images keep http(s) sources and the lesson's own files, written ``media:<sha256>`` (the file's
  hash, as the manifest lists it) or ``media:<position>`` (1 = the first file of the lesson), so a
  phone that downloaded the course shows the image from its copy. The server leaves the reference
  as written; the manifest's files say which file it is.
"""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt

from backend.services.validation import text

MAX_MARKDOWN = 200_000  # characters: a long lesson is ~20,000

_TAGS = {
    *("h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "blockquote"),
    *("ul", "ol", "li", "strong", "em", "del", "s", "code", "pre", "kbd", "sub", "sup"),
    *("table", "thead", "tbody", "tr", "th", "td"),
    *("a", "img"),
}
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"style"},  # text-align of a table column, the only style kept (see _attribute)
    "td": {"style"},
    "code": {"class"},  # language-xxx of a fenced block
}
_LINK_SCHEMES = {"http", "https", "mailto"}
_IMAGE_SOURCE = re.compile(r"(?:https?://\S+|media:(?:[0-9a-f]{64}|[1-9][0-9]{0,3}))", re.IGNORECASE)
_ALIGN = re.compile(r"text-align:(left|right|center)")
_LANGUAGE = re.compile(r"language-[A-Za-z0-9_+-]{1,30}")

_PARSER = MarkdownIt("commonmark", {"html": True, "linkify": False}).enable("table").enable("strikethrough")
# markdown-it refuses javascript:, vbscript:, file: and most data: links itself; media: must pass
# it to reach the allowlist below, which decides.
_default_validate = _PARSER.validateLink
_PARSER.validateLink = lambda url: url.strip().lower().startswith("media:") or _default_validate(url)  # type: ignore[method-assign]


def _attribute(tag: str, name: str, value: str) -> str | None:
    """Keep an attribute's value, or None to drop it: image sources by their own rule, a table
    cell's style only as its alignment, a code block's class only as its language."""
    if tag == "img" and name == "src":
        return value if _IMAGE_SOURCE.fullmatch(value.strip()) else None
    if tag == "a" and name == "href" and value.strip().lower().startswith("media:"):
        return None  # links go out of the lesson (http, https, mailto); its files are the manifest's
    if name == "style":
        match = _ALIGN.fullmatch(value.replace(" ", "").rstrip(";"))
        return f"text-align:{match.group(1)}" if match else None
    if name == "class":
        return value if _LANGUAGE.fullmatch(value) else None
    return value


def check_markdown(value: object, field: str = "markdown") -> str:
    """Lesson text as given (trimmed): at most ``MAX_MARKDOWN`` characters, none a database cannot
    store (VALIDATION)."""
    return text(value, field, MAX_MARKDOWN, required=False)


def to_html(markdown: str) -> str:
    """The sanitised HTML of lesson text (see the module's docstring for what survives)."""
    if not markdown.strip():
        return ""
    rendered = _PARSER.render(markdown)
    return nh3.clean(
        rendered,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        attribute_filter=_attribute,
        url_schemes=_LINK_SCHEMES | {"media"},
        link_rel="noopener noreferrer",
        strip_comments=True,
        clean_content_tags={"script", "style"},
    ).strip()
