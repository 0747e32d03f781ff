"""Adding answers together: batches of different posts, and windows of the same posts.

Every grouping is a tree whose leaves are counts. Batches hold different posts and windows
hold different hours, so adding leaf by leaf is right for every shape: per-post keys of
different batches never meet, grand totals and the day a window boundary splits add up, and
hours of different windows never meet. Counts arrive as strings and are kept as integers.
"""

from __future__ import annotations

from typing import Any

from .api import PARTIAL_KEYS, UNAVAILABLE_TEXT

Tree = dict[str, Any]  # str -> Tree | int


def counts(node: dict) -> Tree:
    """A grouping of the wire (string counts) as integers."""
    return {
        key: counts(value) if type(value) is dict else int(value) for key, value in node.items()
    }


def add_into(target: Tree, node: dict) -> None:
    """Add a grouping of the wire (string counts) into `target` (integer counts)."""
    for key, value in node.items():
        if type(value) is dict:
            into = target.get(key)
            if into is None:
                target[key] = counts(value)
            else:
                add_into(into, value)
        else:
            target[key] = target.get(key, 0) + int(value)


def add_tree(target: Tree, node: Tree) -> None:
    """Add an integer tree into another."""
    if target.keys().isdisjoint(node):  # other posts: nothing to add up, only to take in
        target.update(node)
        return
    for key, value in node.items():
        if type(value) is dict:
            into = target.get(key)
            if into is None:
                target[key] = value
            else:
                add_tree(into, value)
        else:
            target[key] = target.get(key, 0) + value


class PartialLists:
    """The partial-result lists of many answers: each id once, in first-seen order, and the
    `errors` texts that explain them."""

    def __init__(self) -> None:
        self.lists: dict[str, dict[str, None]] = {key: {} for key in PARTIAL_KEYS}
        self._errors: dict[str, None] = {}

    def add(self, answer: dict) -> None:
        for key in PARTIAL_KEYS:
            for tweet_id in answer.get(key) or ():
                self.lists[key][str(tweet_id)] = None
        for text in answer.get("errors") or ():
            self._errors[text] = None

    def merge(self, other: PartialLists) -> None:
        for key, ids in other.lists.items():
            self.lists[key].update(ids)
        self._errors.update(other._errors)

    def ids(self, key: str) -> list[str]:
        return list(self.lists[key])

    def errors(self) -> list[str]:
        """The texts as one answer would give them: the unavailable count is the merged
        list's, each other text once (the cut-off instants of the age rules are the same in
        every answer of one run, unless it spans a change of hour)."""
        unavailable = len(self.lists[PARTIAL_KEYS[0]])
        texts = [UNAVAILABLE_TEXT.format(n=unavailable)] if unavailable else []
        return texts + [t for t in self._errors if not _is_unavailable_count(t)]


def _is_unavailable_count(text: str) -> bool:
    head, _, tail = text.partition(" ")
    return head.isdigit() and tail == UNAVAILABLE_TEXT.partition(" ")[2]
