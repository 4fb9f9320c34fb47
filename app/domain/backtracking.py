r"""Runaway backtracking: which `$regex` patterns a backtracking engine could run on for a very long time.

A backtracking engine (Python's `re` in SecantusDB, the embedded database; PCRE in MongoDB, which bounds it
with a match limit) tries every way a pattern can match before it gives up on a text. The pattern is read
as a Glushkov automaton: one state per character the pattern reads, one edge for each way the pattern lets
a state follow another (`(a+)+` lets `a` follow itself in two ways: two edges). Three shapes make the
number of ways explode, and a pattern with any of them is refused:

* exponential: a state returns to itself along two different paths reading the same text, so every
  repetition multiplies the ways (`(a+)+`, `(a|aa)*`, `(\w+\s?)*`). Found as a cycle of the automaton's
  product with itself through a pair (p, p) that leaves the diagonal or takes two different edges.
* counted: the same, bounded by a count, or a count of something that can match nothing (`(a?){20}a{20}`,
  `(a|aa){30}`): refused when the counts multiply to 12 or more.
* polynomial of high degree: loops chained so that each can read what the next one reads, each loop
  multiplying the work by the length of the text (`.*a.*a.*b`, `(.*a){20}`). Two loops p, q chain when one
  text takes p back to p, p to q, and q back to q (found in the automaton's product with itself twice).
  A search is tried at every position, which counts as one more loop unless the pattern starts with `^`;
  a loop after which nothing can fail does not count, since entering it ends the match. Three chained
  loops make about n³ steps on a text of n characters (7 s for `.*a.*b` on 4,000 characters), so three are
  refused: `.*a.*b` is, `a.*b`, which finds the same texts, is not. Chains of two remain: quadratic work,
  bounded on the embedded database only by the query time limit, which it checks between documents.

The everyday patterns (what the Parse SDKs send for startsWith, contains and endsWith, emails, `[a-z0-9_]+`,
alternatives of words, `\d{3}-\d{4}`) have none of these shapes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from app.domain.patterns import (
    MAX_PATTERN,
    Alt,
    Anchor,
    Backtracking,
    Chars,
    Node,
    PatternError,
    Ranges,
    Repeat,
    Seq,
    charset,
    intersection,
    parse,
)

# Beyond these the analysis stops rather than hold the server, and the pattern is refused as too complex.
_MAX_STATES = 4000
_MAX_STEPS = 400_000
_MAX_CHAIN = 3
_MAX_COUNTED = 12
_ANY: Ranges = ((0, 0x10FFFF),)


def require_bounded(pattern: str, options: str = "") -> None:
    """Refuse (PatternError, code 102) a `$regex` a backtracking engine could run on for a very long time."""
    if len(pattern) > MAX_PATTERN:
        raise PatternError(f"$regex patterns are limited to {MAX_PATTERN} characters.")
    risk = backtracking_risk(parse(pattern, options).root)
    if risk is not None:
        raise PatternError(f"$regex {pattern!r} is refused: {risk}.")


def backtracking_risk(root: Node) -> str | None:
    """Why a backtracking engine could run for a very long time on this pattern, or None."""
    pending = [root]
    while pending:
        node = pending.pop()
        inner: list[Node] = []
        try:
            risk = _counted(node, 1) or _shape(node, inner)
        except _TooComplex:
            return "it is too complex for this server to check how long it may run"
        if risk:
            return risk
        pending.extend(inner)  # lookaround runs its own pattern at each position it is tried
    return None


class _TooComplex(Exception):
    pass


@dataclass(slots=True)
class _Automaton:
    """Glushkov's automaton of a pattern: states are the characters it reads; edges carry who made them."""

    sets: list[int] = field(default_factory=list)
    """Each state's character set, as an index into `charsets`."""
    charsets: list[Ranges] = field(default_factory=list)
    known: dict[Ranges, int] = field(default_factory=dict)
    edges: list[list[tuple[int, int]]] = field(default_factory=list)
    """For each state, (next state, edge id): two ids for the same pair are two ways."""
    links: int = 0
    size: int = 0
    overlaps: dict[tuple[int, int], bool] = field(default_factory=dict)

    def state(self, ranges: Ranges) -> int:
        if ranges not in self.known:
            self.known[ranges] = len(self.charsets)
            self.charsets.append(ranges)
        self.sets.append(self.known[ranges])
        self.edges.append([])
        if len(self.sets) > _MAX_STATES:
            raise _TooComplex
        return len(self.sets) - 1

    def link(self, sources: Iterable[int], targets: list[int]) -> None:
        self.links += 1
        for source in sources:
            self.edges[source].extend((target, self.links) for target in targets)
            self.size += len(targets)
        if self.size > _MAX_STEPS:
            raise _TooComplex

    def chars(self, state: int) -> Ranges:
        return self.charsets[self.sets[state]]

    def overlap(self, first: int, second: int) -> bool:
        """Whether some character is read by both states."""
        a, b = self.sets[first], self.sets[second]
        key = (a, b) if a <= b else (b, a)
        found = self.overlaps.get(key)
        if found is None:
            found = self.overlaps[key] = bool(intersection(self.charsets[a], self.charsets[b]))
        return found


@dataclass(frozen=True, slots=True)
class _Part:
    first: list[int]
    last: list[int]
    nullable: bool
    sure_last: list[int]
    """The states after which nothing in this part can fail (what follows is optional and holds no anchor)."""
    sure_nullable: bool


def _build(node: Node, automaton: _Automaton, inner: list[Node]) -> _Part:
    if isinstance(node, Chars):
        state = automaton.state(charset(node))
        return _Part([state], [state], False, [state], False)
    if isinstance(node, Anchor):
        return _Part([], [], True, [], False)
    if isinstance(node, Seq):
        part = _Part([], [], True, [], True)
        for item in node.items:
            part = _concat(part, _build(item, automaton, inner), automaton)
        return part
    if isinstance(node, Alt):
        parts = [_build(branch, automaton, inner) for branch in node.branches]
        return _Part(
            [s for p in parts for s in p.first],
            [s for p in parts for s in p.last],
            any(p.nullable for p in parts),
            [s for p in parts for s in p.sure_last],
            any(p.sure_nullable for p in parts),
        )
    if isinstance(node, Repeat):
        return _repeat(node, automaton, inner)
    if node.kind == "backreference":
        # It reads what a group read: any text as far as the analysis can tell, and it may fail.
        reads = _repeat(Repeat(Chars(_ANY), 0, None), automaton, inner)
        return _Part(reads.first, reads.last, True, [], False)
    if node.kind == "conditional":
        return _build(Alt(node.items), automaton, inner)
    if node.kind == "atomic group":
        return _build(Seq(node.items), automaton, inner)
    inner.extend(node.items)
    return _Part([], [], True, [], False)


def _concat(left: _Part, right: _Part, automaton: _Automaton) -> _Part:
    automaton.link(left.last, right.first)
    return _Part(
        left.first + (right.first if left.nullable else []),
        right.last + (left.last if right.nullable else []),
        left.nullable and right.nullable,
        right.sure_last + (left.sure_last if right.sure_nullable else []),
        left.sure_nullable and right.sure_nullable,
    )


def _repeat(node: Repeat, automaton: _Automaton, inner: list[Node]) -> _Part:
    if node.high is None:
        part = _build(node.item, automaton, inner)
        loop = part
        for _ in range(node.low - 1):
            loop = _build(node.item, automaton, inner)
            part = _concat(part, loop, automaton)
        automaton.link(loop.last, loop.first)
        skipped = node.low == 0
        return _Part(part.first, part.last, skipped or part.nullable, part.sure_last, skipped or part.sure_nullable)
    # x{2,4} is x x (x (x)?)?: nested, so that the automaton reads each text one way only.
    part = _Part([], [], True, [], True)
    for _ in range(node.high - node.low):
        copy = _concat(_build(node.item, automaton, inner), part, automaton)
        part = _Part(copy.first, copy.last, True, copy.sure_last, True)
    for _ in range(node.low):
        part = _concat(_build(node.item, automaton, inner), part, automaton)
    return part


def _starts_anchored(node: Node) -> bool:
    if isinstance(node, Anchor):
        return node.kind == "start"
    if isinstance(node, Seq):
        return bool(node.items) and _starts_anchored(node.items[0])
    if isinstance(node, Alt):
        return all(_starts_anchored(branch) for branch in node.branches)
    return False


def _shape(root: Node, inner: list[Node]) -> str | None:
    automaton = _Automaton()
    start = automaton.state(())
    entries = [start]
    scan = None
    if not _starts_anchored(root):
        # The search tries every position: as if the pattern began with a loop reading anything.
        scan = automaton.state(_ANY)
        automaton.link([start, scan], [scan])
        entries.append(scan)
    part = _build(root, automaton, inner)
    automaton.link(entries, part.first)
    components = _components({state: [t for t, _ in out] for state, out in enumerate(automaton.edges)})
    return _exponential(automaton, components) or _chained(automaton, components, set(part.sure_last), scan)


def _loops(automaton: _Automaton, components: list[list[int]]) -> list[int]:
    return [
        index
        for index, members in enumerate(components)
        if len(members) > 1 or any(target == members[0] for target, _ in automaton.edges[members[0]])
    ]


def _exponential(automaton: _Automaton, components: list[list[int]]) -> str | None:
    """Two different paths from a state back to itself reading the same text: a cycle of the product
    automaton through (p, p) that leaves the diagonal or takes two different edges. Such a cycle stays
    within one loop of the automaton, so each loop's product is explored on its own."""
    steps = 0
    for index in _loops(automaton, components):
        members = set(components[index])
        size = len(automaton.sets)
        graph: dict[int, list[tuple[int, bool]]] = {}
        stack = [p * size + p for p in members]
        while stack:
            node = stack.pop()
            if node in graph:
                continue
            p, q = divmod(node, size)
            out: list[tuple[int, bool]] = []
            for p2, first in automaton.edges[p]:
                if p2 not in members:
                    continue
                for q2, second in automaton.edges[q]:
                    steps += 1
                    if steps > _MAX_STEPS:
                        raise _TooComplex
                    if q2 in members and automaton.overlap(p2, q2):
                        out.append((p2 * size + q2, first != second))
            graph[node] = out
            stack.extend(target for target, _ in out if target not in graph)
        for component in _components({node: [t for t, _ in out] for node, out in graph.items()}):
            diagonal = [node for node in component if node // size == node % size]
            if not diagonal:
                continue
            inside = set(component)
            if len(diagonal) < len(component) or any(
                diverges and target in inside for node in component for target, diverges in graph[node]
            ):
                return "it can match the same text in exponentially many ways (a repetition of something that repeats)"
    return None


def _chained(automaton: _Automaton, components: list[list[int]], sure_last: set[int], scan: int | None) -> str | None:
    """Loops each able to read what the next one reads: k of them make about n^k steps."""
    component_of = {state: index for index, members in enumerate(components) for state in members}
    loops = [index for index in _loops(automaton, components) if not set(components[index]) <= sure_last]
    chain: dict[int, int] = {}
    budget = [_MAX_STEPS]
    # Components come out of _components with those reached listed first: walk them in that order.
    for index in loops:
        best = 1
        for later, length in chain.items():
            if length + 1 > best and _chains(automaton, budget, components[index], components[later]):
                best = length + 1
        chain[index] = best
        if best >= _MAX_CHAIN:
            scanned = scan is not None and component_of[scan] == index
            hint = " (the search's scan of every position counts as one: a leading .* can usually go)"
            return (
                f"it chains {best} repetitions that can read the same text{hint if scanned else ''}, "
                f"so its work grows as the text's length to the power {best}"
            )
    return None


def _chains(automaton: _Automaton, budget: list[int], first: list[int], second: list[int]) -> bool:
    """Some text takes a state p of the first loop back to p, p to a state q of the second, and q back to q:
    the triple (p, p, q) reaches (p, q, q), its first state never leaving the first loop nor its last the second."""
    first_loop, second_loop = set(first), set(second)
    for p in first:
        for q in second:
            goal = (p, q, q)
            seen = {(p, p, q)}
            stack = [(p, p, q)]
            while stack:
                a, b, c = stack.pop()
                for a2, _ in automaton.edges[a]:
                    if a2 not in first_loop:
                        continue
                    for b2, _ in automaton.edges[b]:
                        if not automaton.overlap(a2, b2):
                            continue
                        common = intersection(automaton.chars(a2), automaton.chars(b2))
                        for c2, _ in automaton.edges[c]:
                            budget[0] -= 1
                            if budget[0] < 0:
                                raise _TooComplex
                            if c2 not in second_loop or not intersection(common, automaton.chars(c2)):
                                continue
                            target = (a2, b2, c2)
                            if target == goal:
                                return True
                            if target not in seen:
                                seen.add(target)
                                stack.append(target)
    return False


def _counted(node: Node, times: int) -> str | None:
    """A count of something that can match nothing, or that repeated could match one text several ways."""
    if isinstance(node, Repeat):
        if node.high is not None:
            times *= max(node.high, 1)
            if times >= _MAX_COUNTED and (_nullable(node.item) or _exponential_repeated(node.item)):
                return (
                    "it counts repetitions of something that can match the same text in several ways, "
                    "and the ways multiply with the count"
                )
        else:
            times = 1
        return _counted(node.item, times)
    if isinstance(node, Seq | Alt | Backtracking):
        children = node.items if isinstance(node, Seq | Backtracking) else node.branches
        for child in children:
            risk = _counted(child, times)
            if risk:
                return risk
    return None


def _nullable(node: Node) -> bool:
    if isinstance(node, Chars):
        return False
    if isinstance(node, Seq):
        return all(_nullable(item) for item in node.items)
    if isinstance(node, Alt):
        return any(_nullable(branch) for branch in node.branches)
    if isinstance(node, Repeat):
        return node.low == 0 or _nullable(node.item)
    return True


def _exponential_repeated(item: Node) -> bool:
    automaton = _Automaton()
    part = _repeat(Repeat(item, 0, None), automaton, [])
    start = automaton.state(())
    automaton.link([start], part.first)
    components = _components({state: [t for t, _ in out] for state, out in enumerate(automaton.edges)})
    return _exponential(automaton, components) is not None


def _components(graph: dict[int, list[int]]) -> list[list[int]]:
    """Strongly connected components (Tarjan's, without recursion), those reached from others listed first."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    found: list[list[int]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph.get(root, ())))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph.get(child, ()))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                found.append(members)
    return found
