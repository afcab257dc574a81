"""Read a page the way a person does: the text they see, a field's label and error message, the buttons, the
chosen option. Tests assert on these rather than on markup, so a change of tags or classes breaks nothing."""
from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_HIDDEN = {"script", "style", "template", "title", "head"}
_INLINE = {"wbr", "a", "abbr", "b", "code", "em", "i", "kbd", "label", "mark", "q", "s", "small", "span", "strong", "sub", "sup",
           "time", "u"}


class _Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: _Node | None):
        self.tag, self.attrs, self.parent, self.children = tag, attrs, parent, []

    def text(self) -> str:
        parts = []
        for child in self.children:
            if isinstance(child, str):
                parts.append(child)
            elif child.tag in _INLINE:
                parts.append(child.text())
            elif child.tag not in _HIDDEN:
                parts.append(f" {child.text()} ")
        return "".join(parts)


class _Tree(HTMLParser):
    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.root = _Node("#root", {}, None)
        self.current = self.root
        self.nodes: list[_Node] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        node = _Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        self.nodes.append(node)
        if tag not in _VOID:
            self.current = node

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", unescape(text)).strip()


def _nodes(html: str, tag: str | None = None, **attrs: str) -> list[_Node]:
    return [n for n in _Tree(html).nodes
            if (tag is None or n.tag == tag) and all(n.attrs.get(k.rstrip("_")) == v for k, v in attrs.items())]


def text(html: str) -> str:
    """Everything a person reads on the page, as one line of text."""
    return _squash(_Tree(html).root.text())


def field_error(html: str, field_id: str) -> str | None:
    """The error message shown next to the field with id ``field_id`` (None when there is none)."""
    nodes = _nodes(html, id=f"{field_id}-error")
    return _squash(nodes[0].text()) if nodes else None


def label(html: str, field_id: str) -> str | None:
    """The visible label of the field with id ``field_id`` (None when it has none)."""
    nodes = _nodes(html, "label", for_=field_id)
    return _squash(nodes[0].text()) if nodes else None


def buttons(html: str) -> list[str]:
    """The text of every button."""
    return [_squash(n.text()) for n in _nodes(html, "button")]


def options(html: str, select_id: str) -> list[str]:
    """The choices a select offers, as shown."""
    return [_squash(n.text()) for n in _nodes(html, "option") if _ancestor_id(n, "select") == select_id]


def selected(html: str, select_id: str) -> str | None:
    """The choice a select shows as chosen."""
    chosen = [n for n in _nodes(html, "option") if _ancestor_id(n, "select") == select_id and "selected" in n.attrs]
    return _squash(chosen[0].text()) if chosen else None


def checked(html: str, field_id: str) -> bool:
    """Whether the checkbox or radio with id ``field_id`` is ticked."""
    return any("checked" in n.attrs for n in _nodes(html, "input", id=field_id))


def _ancestor_id(node: _Node, tag: str) -> str | None:
    while node is not None and node.tag != tag:
        node = node.parent
    return node.attrs.get("id") if node is not None else None


def choice(html: str, name: str, value: str) -> tuple[str, bool] | None:
    """The checkbox or radio button ``name``=``value``: its visible label and whether it is ticked."""
    tree = _Tree(html)
    for node in tree.nodes:
        if node.tag == "input" and node.attrs.get("name") == name and node.attrs.get("value") == value:
            owner = node.parent
            while owner is not None and owner.tag != "label":
                owner = owner.parent
            if owner is None:
                owner = next((n for n in tree.nodes if n.tag == "label" and n.attrs.get("for") == node.attrs.get("id")),
                             None)
            return (_squash(owner.text()) if owner is not None else ""), "checked" in node.attrs
    return None


def shown_status(html: str) -> str | None:
    """The status a ticket page or card shows next to the ticket's name."""
    pills = [n for n in _Tree(html).nodes if "status-pill" in (n.attrs.get("class") or "").split()]
    return _squash(pills[0].text()) if pills else None


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """The text of each cell of each body row of the table with id ``table_id``."""
    body = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        rows.append([re.sub(r"<[^>]+>", "", c).strip() for c in cells])
    return rows
