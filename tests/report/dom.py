"""The report page as elements, read with the standard library's HTML parser (no browser).

Enough to check what the page says: every element with its attributes and its whole text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

__all__ = ["Element", "Page", "parse"]

_VOID = {"meta", "br", "hr", "img", "input", "link", "wbr"}


@dataclass
class Element:
    """One element: tag, attributes and the text of everything inside it."""

    tag: str
    attrs: dict[str, str]
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.open: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.elements.append(element)
        if tag not in _VOID:
            self.open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        while self.open:
            if self.open.pop().tag == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self.open:
            element.parts.append(data)


class Page:
    """A parsed page: ``page.all("rect", "bar")``, ``page.one("span", total="calls")``."""

    def __init__(self, html: str) -> None:
        parser = _Parser()
        parser.feed(html)
        parser.close()
        self.elements = parser.elements

    def all(self, tag: str | None = None, cls: str | None = None, **data: str) -> list[Element]:
        """Elements by tag, class and ``data-*`` attributes (``data_total="calls"``)."""
        want = {k.replace("_", "-"): v for k, v in data.items()}
        return [
            e
            for e in self.elements
            if (tag is None or e.tag == tag)
            and (cls is None or cls in e.classes)
            and all(e.attrs.get(k) == v for k, v in want.items())
        ]

    def one(self, tag: str | None = None, cls: str | None = None, **data: str) -> Element:
        """The single element that matches."""
        found = self.all(tag, cls, **data)
        assert len(found) == 1, f"expected one {tag}.{cls} {data}, found {len(found)}"
        return found[0]


def parse(html: str) -> Page:
    """The page's elements."""
    return Page(html)
