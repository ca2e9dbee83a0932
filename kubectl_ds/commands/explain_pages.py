"""`explain` judges what it reads page by page, while the API server serves the next page.

A node's side (the controller's verdict, its labels and taints: placement/nodeside.py) needs only the
DaemonSet, and a pod's report only the DaemonSet and its revisions, so neither waits for the whole list: the
kube adapter hands each page to these callbacks as soon as it is decoded (Cluster.list_nodes(on_page=...)),
and what is left after the last page is joining them per node (report.assess_nodes). A reader that cannot
hand out pages (a dump) is judged after it is read, with the same functions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kubectl_ds import resources as r

if TYPE_CHECKING:
    from kubectl_ds.placement.nodeside import NodeSide
    from kubectl_ds.placement.report import PodReport
    from kubectl_ds.placement.revisions import RevisionIndex


class PagedJudging:
    """Callbacks for the pages of the node list and of the DaemonSet's pod list; `judged` and `reported`
    fill as they come. The node pages may come before the DaemonSet is known: they wait for know()."""

    def __init__(self) -> None:
        self.judged: dict[str, NodeSide] = {}
        self.reported: dict[str, PodReport] = {}
        self._known = threading.Event()
        self._daemonset: dict[str, Any] | None = None
        self._live: dict[str, Any] | None = None
        self._revisions: Callable[[], RevisionIndex] | None = None
        self._now: datetime | None = None

    def know(
        self,
        daemonset: dict[str, Any] | None,
        live: dict[str, Any] | None = None,
        revisions: Callable[[], RevisionIndex] | None = None,
        now: datetime | None = None,
    ) -> None:
        """What the pages are judged against (None: the DaemonSet could not be read; judge nothing)."""
        self._daemonset, self._live, self._revisions, self._now = daemonset, live, revisions, now
        self._known.set()

    def nodes_page(self, page: Sequence[dict[str, Any]]) -> None:
        from kubectl_ds.placement.nodeside import judge_nodes

        self._known.wait()
        if self._daemonset is not None:
            self.judged.update(judge_nodes(self._daemonset, page))

    def pods_page(self, page: Sequence[dict[str, Any]]) -> None:
        from kubectl_ds.placement.report import report_pods

        self._known.wait()
        if self._daemonset is None or self._live is None or self._revisions is None or self._now is None:
            return
        own = [pod for pod in page if r.is_controlled_by(pod, self._live)]
        self.reported.update(report_pods(self._daemonset, own, self._revisions(), self._now))
