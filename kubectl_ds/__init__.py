"""kubectl-ds: explain DaemonSet placement node by node, and roll DaemonSets out step by step."""

__version__ = "0.1.0"
