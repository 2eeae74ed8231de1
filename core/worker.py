"""A training worker process: imports TensorFlow and loads MNIST once, then trains runs.

    python -m core.worker        # reads run ids, one per line, from standard input

The server's engine (`core.engine`) starts workers as plain subprocesses (no multiprocessing
`spawn`, so Streamlit's page script is never re-imported), claims a queued run in the store and
writes its id here. The worker trains it (`core.runs.train_run`), which writes its progress to
the store, and waits for the next id. It exits when its standard input closes, and gives up a
run it is training when the server that started it has gone (the run ends as interrupted, its
last checkpoint kept).
"""

from __future__ import annotations

import gc
import logging
import os
import sys

# Training is background work: at a lower CPU priority it takes what the server's page reruns
# leave, so sliders and drawings stay quick for a classroom while someone trains (measured in
# `make bench` and `make soak`).
NICENESS = 10


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="worker %(process)d: %(message)s")
    if hasattr(os, "nice"):  # Not on Windows.
        os.nice(NICENESS)
    parent = os.getppid()
    import keras

    from core.runs import train_run
    from core.store import Store
    from core.training import load_splits

    store = Store(migrate=False)  # The server migrated it; AE_DATABASE_URL/AE_DATA_DIR say where.
    splits = load_splits()  # Imports and data are ready before the first run arrives.
    print("ready", flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line.isdigit():
            continue
        train_run(store, int(line), splits, should_abort=lambda: os.getppid() != parent)
        keras.backend.clear_session()  # This process serves no one else: free the graph.
        gc.collect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
