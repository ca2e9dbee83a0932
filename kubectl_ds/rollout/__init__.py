"""Rolling a DaemonSet out. `budget`, `plan` and `progress` are pure: plain dicts in, frozen dataclasses out.

They mirror the controller's rolling update (pkg/controller/daemon/update.go) and kubectl's
DaemonSetStatusViewer; anything that talks to the cluster or waits lives outside these modules.
"""
