"""The lesson text sanitiser (backend/services/content/markdown.py) against script injection: a corpus
in the style of the OWASP XSS filter evasion cheat sheet, each vector alone and inside real lesson
text. Nothing active may survive; Chinese text and ordinary formatting must."""

from __future__ import annotations

import re

import pytest

from backend.errors import DomainError
from backend.services.content.markdown import MAX_MARKDOWN, check_markdown, to_html

VECTORS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://xss.example/xss.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    '<img src=x onerror="alert(1)">',
    "<img src=x onerror=alert(1)//",
    '<IMG SRC="javascript:alert(1);">',
    "<IMG SRC=JaVaScRiPt:alert(1)>",
    "<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;&#114;&#116;&#40;&#49;&#41;>",
    '<IMG SRC="jav&#x09;ascript:alert(1);">',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![x](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="JAVASCRIPT:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](javascript&#58;alert(1))",
    "[x]( javascript:alert(1) )",
    "[x][ref]\n\n[ref]: javascript:alert(1)",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<iframe src="https://evil.example"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>">',
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<div style="background-image:url(javascript:alert(1))">x</div>',
    '<p style="position:fixed;top:0">cover</p>',
    '<object data="https://evil.example/x.swf"></object>',
    '<embed src="https://evil.example/x.swf">',
    '<form action="https://evil.example"><input name="password"></form>',
    '<body onload="alert(1)">',
    '<details open ontoggle="alert(1)">',
    '<video><source onerror="alert(1)"></video>',
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    '<base href="https://evil.example/">',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    "<!--<script>alert(1)</script>-->",
    '<a href="https://ok.example" onclick="alert(1)" target="_blank">ok</a>',
    '<td style="text-align:left;background:url(javascript:alert(1))">x</td>',
    "```html\n<script>alert(1)</script>\n```",
    '<code class="language-x onmouseover=alert(1)">x</code>',
]

ALLOWED_TAGS = {
    *("h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "blockquote", "ul", "ol", "li", "strong", "em"),
    *("del", "s", "code", "pre", "kbd", "sub", "sup", "table", "thead", "tbody", "tr", "th", "td", "a", "img"),
}
ALLOWED_ATTRIBUTES = {"href", "title", "src", "alt", "start", "style", "class", "rel"}
TAG = re.compile(r"<\s*/?\s*([a-zA-Z][a-zA-Z0-9]*)([^>]*)>")
ATTRIBUTE = re.compile(r'([a-zA-Z-]+)="([^"]*)"')


def active_parts(html: str) -> list[str]:
    """Whatever in ``html`` a browser would treat as markup beyond the allowlist (escaped text is text)."""
    found = []
    for name, attributes in TAG.findall(html):
        if name.lower() not in ALLOWED_TAGS:
            found.append(f"tag {name}")
        rest = ATTRIBUTE.sub("", attributes).strip().rstrip("/").strip()
        if rest:
            found.append(f"unquoted attribute {rest}")
        for attribute, value in ATTRIBUTE.findall(attributes):
            if attribute.lower() not in ALLOWED_ATTRIBUTES:
                found.append(f"attribute {attribute}")
            elif attribute in ("href", "src") and not re.match(r"(https?://|mailto:|media:)", value, re.IGNORECASE):
                found.append(f"{attribute} {value}")
            elif attribute == "style" and not re.fullmatch(r"text-align:(left|right|center)", value):
                found.append(f"style {value}")
            elif attribute == "class" and not re.fullmatch(r"language-[A-Za-z0-9_+-]+", value):
                found.append(f"class {value}")
    return found


@pytest.mark.parametrize("vector", VECTORS)
def test_no_vector_survives_alone_or_inside_a_lesson(vector: str) -> None:
    for markdown in (vector, f"# 安全须知\n\n戴好安全帽。{vector}\n\n- 第一条\n- 第二条 {vector}\n\n> {vector}"):
        html = to_html(markdown)
        # Escaped text may still read "onerror" or "javascript": as text, never as markup.
        assert active_parts(html) == [], html
        assert "<script" not in html.lower() and "<svg" not in html.lower() and "<iframe" not in html.lower()


def test_chinese_text_and_formatting_survive() -> None:
    markdown = (
        "# 第一章 安全生产\n\n## 1.1 个人防护\n\n**必须**佩戴安全帽，*注意*脚下。~~旧规定~~\n\n"
        "1. 检查设备\n2. 填写`点检表`\n\n> 安全第一，预防为主。\n\n---\n\n"
        "| 项目 | 频次 |\n|:--|--:|\n| 点检 | 每班 |\n\n"
        "```python\nprint('你好')\n```\n\n"
        "[公司制度](https://intranet.example/规定) · [联系 HR](mailto:hr@example.com)\n\n"
        "![示意图](media:2) ![外链图](https://cdn.example/a.png) ![文件](media:" + "0" * 64 + ")"
    )
    html = to_html(markdown)
    for expected in (
        "<h1>第一章 安全生产</h1>",
        "<h2>1.1 个人防护</h2>",
        "<strong>必须</strong>佩戴安全帽，<em>注意</em>脚下。<s>旧规定</s>",
        "<ol>\n<li>检查设备</li>\n<li>填写<code>点检表</code></li>\n</ol>",
        "<blockquote>\n<p>安全第一，预防为主。</p>\n</blockquote>",
        "<hr>",
        '<th style="text-align:left">项目</th>',
        '<td style="text-align:right">每班</td>',
        "<pre><code class=\"language-python\">print('你好')\n</code></pre>",
        '<a href="https://intranet.example/%E8%A7%84%E5%AE%9A" rel="noopener noreferrer">公司制度</a>',
        '<a href="mailto:hr@example.com" rel="noopener noreferrer">联系 HR</a>',
        '<img src="media:2" alt="示意图">',
        '<img src="https://cdn.example/a.png" alt="外链图">',
        f'<img src="media:{"0" * 64}" alt="文件">',
    ):
        assert expected in html, (expected, html)


def test_media_references_are_images_only_and_well_formed() -> None:
    assert "href" not in to_html("[file](media:1)")  # links leave the lesson; files are the manifest's
    for bad in ("media:0", "media:abc", "media:" + "g" * 64, "media:1/../x", "media:12345"):
        assert "src" not in to_html(f"![x]({bad})"), bad


def test_length_limit() -> None:
    assert check_markdown("字" * MAX_MARKDOWN) == "字" * MAX_MARKDOWN
    with pytest.raises(DomainError) as refused:
        check_markdown("字" * (MAX_MARKDOWN + 1))
    assert refused.value.code.value == "VALIDATION"
    with pytest.raises(DomainError):
        check_markdown("a\x00b")
    assert to_html("   \n") == ""
