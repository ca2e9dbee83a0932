"""Pure. Which nodes a managed rollout updates, in what order, and how the order is cut into steps.

The plugin, not the controller, chooses the nodes (the DaemonSet is parked with OnDelete), so it can do what
the controller cannot: a canary group spread over label values (`--canary-spread`), one label value per wave
(`--wave-by`), steps that grow (`--step-size 1,5,10%`), and a scope (`--nodes`) outside which nodes stay on
their revision. Every rule here is a total order over the nodes' names and labels, so the plan is the same
each time it is recomputed (the runner plans again before every step) and a resume neither repeats nor skips.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from kubectl_ds.errors import UsageError
from kubectl_ds.placement.report import natural_key
from kubectl_ds.rollout.budget import check_not_over_100_percent, parse_int_or_percent, scaled

STEP_SIZE_FLAG = "--step-size"
CANARY_SPREAD_FLAG = "--canary-spread"
WAVE_BY_FLAG = "--wave-by"


@dataclass(frozen=True)
class Step:
    number: int  # from 1
    nodes: tuple[str, ...]
    canary: bool = False
    wave: str | None = None  # the --wave-by label value of its nodes ("" for nodes without the label)


@dataclass(frozen=True)
class Candidate:
    name: str
    canary: bool
    cost: int  # 1 if replacing it makes an available node unavailable; 0 if it is unavailable already
    last: bool = False  # the driver runs on it: replacing its agent (kube-proxy, a CNI) may cut the driver off
    wave: str | None = None  # its --wave-by label value, "" when it lacks the label; None without --wave-by


# --- options ---------------------------------------------------------------------------------------------


def parse_step_sizes(value: int | str) -> tuple[int | str, ...]:
    """`--step-size 1,5,10%,25%`: the sizes of the successive steps, the last repeating. Each is N or P%."""
    if isinstance(value, int):
        parts: list[int | str] = [value]
    else:
        parts = [part.strip() for part in value.split(",")]
    sizes: list[int | str] = []
    for part in parts:
        if part == "":
            raise UsageError(f'invalid {STEP_SIZE_FLAG} "{value}": an empty size between commas')
        parsed = parse_int_or_percent(part, field=STEP_SIZE_FLAG)
        check_not_over_100_percent(parsed, field=STEP_SIZE_FLAG)
        if parsed.is_zero:
            which = "every size must" if len(parts) > 1 else "must"
            raise UsageError(f'invalid {STEP_SIZE_FLAG} "{value}": {which} be greater than 0')
        sizes.append(int(part) if isinstance(part, str) and part.isdigit() else part)
    return tuple(sizes)


def step_size_of(value: int | str | None, desired: int, limit: int, offset: int) -> Callable[[int], int]:
    """The requested size of the k-th step counted from `offset` (the growing steps already taken), capped by
    the budget's `limit`: a size never lets more nodes be unavailable at once than the budget allows."""
    if value is None:
        return lambda _k: limit
    sizes = [scaled(parse_int_or_percent(size, field=STEP_SIZE_FLAG), desired) for size in parse_step_sizes(value)]

    def size(k: int) -> int:
        return min(sizes[min(offset + k, len(sizes) - 1)], limit)

    return size


def parse_label_keys(value: str, *, flag: str) -> tuple[str, ...]:
    """`KEY,KEY...` (label keys, not key=value)."""
    keys = tuple(key.strip() for key in value.split(","))
    for key in keys:
        if not key or any(char.isspace() or char in "=!()" for char in key):
            raise UsageError(
                f'invalid {flag} "{value}": expected label keys (KEY[,KEY...]), such as topology.kubernetes.io/zone'
            )
    if len(set(keys)) != len(keys):
        raise UsageError(f'invalid {flag} "{value}": a label key is given twice')
    return keys


# --- the canary spread -----------------------------------------------------------------------------------


def spread_canaries(nodes: Mapping[str, Mapping[str, str]], keys: Sequence[str]) -> frozenset[str]:
    """One node per distinct value of each of `keys` among `nodes` (name -> labels): a build broken on one
    architecture, zone or instance type then fails on the canary step and nowhere else.

    Greedy set cover: take the node that covers the most (key, value) pairs not yet covered, ties to the first
    name in natural order; a node without a key covers the pair (key, <none>), since "the label is missing"
    is a population of its own. Pass every node that should run the pod, updated or not: the choice then does
    not change as nodes get updated, so a resumed rollout picks the same canaries."""
    uncovered = {(key, labels.get(key)) for labels in nodes.values() for key in keys}
    chosen: set[str] = set()
    names = sorted(nodes, key=lambda name: (natural_key(name), name))
    while uncovered:
        best = max(names, key=lambda name: (len(_pairs(nodes[name], keys) & uncovered), -names.index(name)))
        chosen.add(best)
        uncovered -= _pairs(nodes[best], keys)
    return frozenset(chosen)


def _pairs(labels: Mapping[str, str], keys: Sequence[str]) -> set[tuple[str, str | None]]:
    return {(key, labels.get(key)) for key in keys}


# --- order and steps -------------------------------------------------------------------------------------


def _wave_key(wave: str | None) -> tuple[int, tuple[tuple[int, int | str], ...]]:
    """Waves in natural order of their value; nodes without the label last."""
    if wave is None:
        return (0, ())
    return (1, ()) if wave == "" else (0, natural_key(wave))


def order(candidates: Iterable[Candidate]) -> list[Candidate]:
    """The rollout order.

    1. Canary nodes first (they get their own step or steps).
    2. Then, with --wave-by, wave by wave: label values in natural order, nodes without the label last.
    3. Within each, nodes that are already unavailable (an old pod that is not available, a node mid-transition
       or with duplicate pods): replacing them costs no budget, and the controller replaces them first too.
    4. Then the rest, by node name in natural order (node-2 before node-10).
    5. Last, in a step of its own, the node the driver runs on, when it runs in a pod of the cluster.
    The order is total, so the plan is stable across runs.
    """
    return sorted(
        candidates, key=lambda c: (c.last, not c.canary, _wave_key(c.wave), c.cost, natural_key(c.name), c.name)
    )


def chunk(
    ordered: Sequence[Candidate], size_of: Callable[[int], int], first_capacity: int, canary_capacity: int
) -> list[Step]:
    """Cut the order into steps of at most `size_of(k)` available nodes for the k-th step that is not a canary
    step (`canary_capacity` for canary steps: growing sizes start after the canary), and at most
    `first_capacity` for the very first step.

    Already-unavailable nodes cost nothing, so they join whichever step reaches them. Canary and non-canary
    nodes, two waves, and the driver's own node never share a step; the canary group is one step whatever the
    budget (the runner replaces it in batches the budget allows). If the first step could take no available
    node and none of the leading nodes is unavailable, it is an ordinary step that must wait for the budget
    (the NotReadyUsesBudget warning).
    """
    steps: list[Step] = []
    current: list[Candidate] = []
    used = 0
    sized = 0  # non-canary steps cut so far

    def capacity_of_next() -> int:
        size = max(canary_capacity if ordered[0].canary else size_of(sized), 1)
        if not steps and (first_capacity > 0 or ordered[0].cost == 0):
            return min(size, first_capacity)
        return size

    def close() -> None:
        nonlocal current, used, sized
        first = current[0]
        steps.append(Step(len(steps) + 1, tuple(c.name for c in current), canary=first.canary, wave=first.wave))
        sized += 0 if first.canary else 1
        current, used = [], 0

    capacity = capacity_of_next() if ordered else 0
    for candidate in ordered:
        if current:
            previous = current[-1]
            crosses = (previous.canary, previous.last, previous.wave) != (
                candidate.canary,
                candidate.last,
                candidate.wave,
            )
            # The canary group is one step whatever the budget: the step replaces its nodes in batches the
            # budget allows, one after the other (rollout/steps.py), so `--steps 1` stops with every canary updated.
            over_budget = used + candidate.cost > capacity and not candidate.canary
            if crosses or over_budget:
                close()
                capacity = max(canary_capacity if candidate.canary else size_of(sized), 1)
        current.append(candidate)
        used += candidate.cost
    if current:
        close()
    return steps


def wave_of(labels: Mapping[str, str], wave_by: str | None) -> str | None:
    return None if wave_by is None else labels.get(wave_by, "")
