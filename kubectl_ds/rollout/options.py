"""Pure. The rollout's options, checked the way the API server checks a strategy plus what a managed
rollout cannot do, and turned into what the plan needs."""

from __future__ import annotations

from kubectl_ds.errors import UsageError
from kubectl_ds.labelselector import parse_selector
from kubectl_ds.rollout.budget import validate_rolling_update
from kubectl_ds.rollout.gates import validate_gates
from kubectl_ds.rollout.ordering import CANARY_SPREAD_FLAG, WAVE_BY_FLAG, parse_label_keys
from kubectl_ds.rollout.plan import PlanOptions, parse_canary, validate_plan_options
from kubectl_ds.rollout.state import RolloutOptions
from kubectl_ds.strategy import surges

ON_FAILURE = ("halt", "abort")
NODES_FLAG = "--nodes"


def plan_options(options: RolloutOptions) -> PlanOptions:
    return PlanOptions(
        max_unavailable=options.max_unavailable,
        max_surge=options.max_surge,
        step_size=options.step_size,
        canary=parse_canary(options.canary) if options.canary else None,
        partition=options.partition,
        skip_unreachable=options.skip_unreachable,
        canary_spread=parse_label_keys(options.canary_spread, flag=CANARY_SPREAD_FLAG) if options.canary_spread else (),
        wave_by=parse_label_keys(options.wave_by, flag=WAVE_BY_FLAG)[0] if options.wave_by else None,
        nodes=parse_selector(options.nodes, flag=NODES_FLAG) if options.nodes else None,
    )


def validate_options(options: RolloutOptions) -> None:
    """Raise UsageError, naming the flag, for options no managed rollout can run with."""
    validate_rolling_update(options.max_unavailable, options.max_surge)
    validate_plan_options(plan_options(options))
    if surges(options.max_surge) and (
        options.canary or options.partition or options.canary_spread or options.nodes or options.wave_by
    ):
        raise UsageError(
            "--canary, --canary-spread, --partition, --nodes and --wave-by need the plugin to choose the nodes, "
            "but with --max-surge the controller chooses which nodes surge; use --max-unavailable instead"
        )
    if options.wave_by and "," in options.wave_by:
        raise UsageError(
            f'invalid {WAVE_BY_FLAG} "{options.wave_by}": waves go by one label key, such as '
            "topology.kubernetes.io/zone"
        )
    if options.on_failure not in ON_FAILURE:
        raise UsageError(f'invalid --on-failure "{options.on_failure}": use halt or abort')
    if options.step_timeout <= 0:
        raise UsageError("--step-timeout must be positive")
    if options.max_restarts < 1:
        raise UsageError(f"invalid --max-restarts {options.max_restarts}: must be at least 1")
    # --- pre-pull ---
    if options.prepull_timeout <= 0:
        raise UsageError("--prepull-timeout must be positive")
    validate_gates(options)  # --check, --check-exec, --check-timeout, --bake, --canary-bake
