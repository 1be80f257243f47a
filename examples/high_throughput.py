"""The spec's scaling pattern: two runners always ready, up to ten under load."""
import os
import time

import fal


class HighThroughput(fal.App, keep_alive=30):
    machine_type = "GPU-H100"
    min_concurrency = 2  # Always have 2 containers ready
    max_concurrency = 10  # Scale up to 10 containers

    @fal.endpoint("/work")
    def work(self, milliseconds: int = 100) -> dict:
        time.sleep(milliseconds / 1000)
        return {"runner": os.environ.get("KILN_RUNNER_ID"), "slept_ms": milliseconds}
