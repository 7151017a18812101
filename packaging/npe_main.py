"""Entry point of the PyInstaller bundle: the same `npe` command that pip installs."""

import multiprocessing
import sys

from npe.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # data-loader workers re-run the executable on spawn platforms
    sys.exit(main())
