"""The cluster simulator's parts and the Kubernetes rules they follow, written for the simulator alone.

tests/simulator.py assembles them into ClusterSimulator. Nothing here imports kubectl_ds: the simulator
stands in for the cluster the plugin is tested against, so it must not share the plugin's rules, or a bug
in those rules would fool both sides (tests/test_sim_independence.py checks the imports). Each rule module
names the upstream Kubernetes file and function it follows.

Rules:      objects (reading API objects), labels (label selectors), nodeaffinity, taints, quantity,
            pods (readiness, availability, target node), budget (maxSurge/maxUnavailable),
            daemonpods (NodeShouldRunDaemonPod, the pods the controller creates), revisions, update
            (rollingUpdate), fit (the scheduler's filters), preemption (DefaultPreemption), containers
            (image conventions, the kubelet's back-offs).
Components: clock, writer (every write and event), controller and history (the DaemonSet controller),
            disruption (the disruption controller), scheduler, nodelifecycle (node lifecycle and taint
            eviction), kubelet, podgc (the pod garbage collector).
"""
