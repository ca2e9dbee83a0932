"""I/O. The only package that talks to the API server and the only importer of `kubernetes`.

Adapters, not a client: every function returns plain dicts exactly as the API serves them, and every
failure leaves here as one of our own errors (kubectl_ds.errors).
"""
