"""The worker harness behind kiln_worker.py: frames, loading, inspection, serving."""
