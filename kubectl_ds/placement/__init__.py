"""Pure. "Should this DaemonSet's pod be on node X, and why (not)?" — no I/O, plain dicts in.

Mirrors the DaemonSet controller's `NodeShouldRunDaemonPod` (pkg/controller/daemon/daemon_controller.go)
and the scheduler-side checks the controller leaves to the scheduler (resources, host ports).
"""
