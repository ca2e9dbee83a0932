"""`python -m kubectl_ds` runs the same entry point as the `kubectl-ds` executable."""

from kubectl_ds.cli import main

if __name__ == "__main__":
    main()
