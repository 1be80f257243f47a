"""The spec's multi-GPU pattern: each runner gets four whole GPUs (CUDA_VISIBLE_DEVICES)."""
import os

import fal


class LargeModel(fal.App):
    machine_type = "GPU-H100"
    num_gpus = 4  # 4x H100 = 320GB VRAM

    @fal.endpoint("/devices")
    def devices(self) -> dict:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
        return {"cuda_visible_devices": visible, "gpus": len([d for d in visible.split(",") if d])}
