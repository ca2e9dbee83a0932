"""Rolling a DaemonSet out, managed step by step. Pure modules, plain dicts in and frozen dataclasses out:
budget, plan, nodepods (the one model of a node's pods), decisions, options, change, preview, state,
progress, status, history, events. The shell: session (the cluster, through an injected RolloutCluster),
runner (the loop), controller_driven (kubectl's own undo and restart). See docs/architecture.md.

They mirror the controller's rolling update (pkg/controller/daemon/update.go) and kubectl's
DaemonSetStatusViewer (docs/rules.md).
"""
