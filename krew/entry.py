"""PyInstaller's entry script for the kubectl-ds executable (krew/build.py --mode pyinstaller)."""

from kubectl_ds.cli import main

if __name__ == "__main__":
    main()
