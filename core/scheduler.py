"""The embedded cluster's Dask scheduler, run by the app as its own process.

    python core/scheduler.py --parent PID      # prints its address, then serves

The app (`core.engine`) starts it when no `AE_DASK_SCHEDULER` is configured. It listens on
loopback on a free port (two apps on one machine never collide), prints its address as the
first line of its output, and exits when the app that started it is gone, so a killed server
leaves no scheduler behind. A real cluster uses Dask's own `dask scheduler` instead.

It is run as a file, not with `-m`: `import core` loads Keras (for the shipped models' custom
layers), about 600 MB that a scheduler has no use for; this way it holds about 60 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

if __name__ == "__main__" and not __package__:
    sys.path.pop(0)  # The folder of this file: its modules must not shadow Dask's imports.


async def serve(host: str, port: int, parent: int | None) -> None:
    from distributed import Scheduler

    # No dashboard, and its small HTTP server (health, metrics) on any free loopback port.
    async with Scheduler(
        host=host, port=port, dashboard=False, dashboard_address="127.0.0.1:0"
    ) as scheduler:
        print(scheduler.address, flush=True)
        while parent is None or os.getppid() == parent:
            await asyncio.sleep(1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python core/scheduler.py", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--parent", type=int, help="exit when this process is gone")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port, args.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
