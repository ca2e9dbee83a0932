"""I/O. The one package that reads the world: the API server (the only importer of `kubernetes`), the
kubeconfig, and offline dumps and manifests (dump.py). Nothing outside it opens a file or a socket.

Adapters, not a client: every function returns plain dicts exactly as the API serves them, and every
failure leaves here as one of our own errors (kubectl_ds.errors).
"""
