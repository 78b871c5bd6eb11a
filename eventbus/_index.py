"""Wildcard subscriptions indexed by segment, so finding those a type matches is one walk.

The patterns form a tree keyed by segment (a literal, ``*`` or ``**``). Matching a type walks
it one segment at a time, keeping the set of nodes reached so far: the cost grows with the
type's length and the number of distinct pattern prefixes alive on the way, never with the
number of subscriptions, and never backtracks (``**.**.**`` is as cheap as ``**``).

Which patterns match a type depends only on which of its segments are literals of some
pattern (:attr:`PatternIndex.literals`): the routing table walks a type's *shape*, the type
with every other segment blanked, so that ``ns.t1.evt`` and ``ns.t2.evt`` share one walk.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class _Node(Generic[T]):
    __slots__ = ("children", "double", "items", "loops", "star")

    def __init__(self, loops: bool) -> None:
        self.children: dict[str, _Node[T]] = {}
        self.star: _Node[T] | None = None
        self.double: _Node[T] | None = None
        self.items: list[T] = []
        #: reached through ``**``: it consumes any further segment and stays
        self.loops = loops

    def empty(self) -> bool:
        return not (self.children or self.star or self.double or self.items)


class PatternIndex(Generic[T]):
    """Items (subscriptions) filed under validated wildcard patterns."""

    def __init__(self) -> None:
        self._root: _Node[T] = _Node(loops=False)
        self.size = 0
        #: every literal segment of the patterns filed
        self.literals: frozenset[str] = frozenset()

    def _changed(self) -> None:
        """Collect the literal segments anew."""
        literals: set[str] = set()
        pending = [self._root]
        while pending:
            node = pending.pop()
            literals.update(node.children)
            pending += node.children.values()
            pending += [child for child in (node.star, node.double) if child is not None]
        self.literals = frozenset(literals)

    def add(self, pattern: str, item: T) -> None:
        """File ``item`` under ``pattern``."""
        node = self._root
        for segment in _segments(pattern):
            node = self._child(node, segment)
        node.items.append(item)
        self.size += 1
        self._changed()

    @staticmethod
    def _child(node: _Node[T], segment: str) -> _Node[T]:
        if segment == "**":
            node.double = node.double or _Node(loops=True)
            return node.double
        if segment == "*":
            node.star = node.star or _Node(loops=False)
            return node.star
        return node.children.setdefault(segment, _Node(loops=False))

    def remove(self, pattern: str, item: T) -> None:
        """Take ``item`` out of ``pattern``'s entry, pruning branches left empty."""
        path = [self._root]
        segments = _segments(pattern)
        for segment in segments:
            path.append(self._child(path[-1], segment))
        path[-1].items.remove(item)
        self.size -= 1
        self._changed()
        steps = zip(path[:-1], segments, path[1:], strict=True)
        for parent, segment, node in reversed(list(steps)):
            if not node.empty():
                break
            if segment == "**":
                parent.double = None
            elif segment == "*":
                parent.star = None
            else:
                del parent.children[segment]

    def matching(self, segments: Iterable[str | None]) -> list[T]:
        """Every item whose pattern matches the type of these segments (a ``None`` segment,
        one no pattern names, matches only wildcards), each pattern's in filing order."""
        if not self.size:
            return []
        return self._walk(segments)

    def _walk(self, segments: Iterable[str | None]) -> list[T]:
        root = self._root
        states = [root] if root.double is None else [root, root.double]
        for segment in segments:
            reached: list[_Node[T]] = []
            for node in states:
                if node.loops:
                    reached.append(node)
                literal = node.children.get(segment) if segment is not None else None
                for child in (literal, node.star):
                    if child is not None:
                        reached.append(child)
                        if child.double is not None:  # ``**`` may match zero segments
                            reached.append(child.double)
            if not reached:
                return []
            # A ``**`` node is reached again through itself and through its parent.
            states = list(dict.fromkeys(reached))
        return [item for node in states for item in node.items]


def _segments(pattern: str) -> list[str]:
    """The pattern's segments with runs of ``**`` folded into one (they match the same), so
    a ``**`` node never has a ``**`` child and one step finds every node ``**`` skips to."""
    out: list[str] = []
    for segment in pattern.split("."):
        if segment == "**" and out and out[-1] == "**":
            continue
        out.append(segment)
    return out
