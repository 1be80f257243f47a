"""The spec's volume pattern: files under /models survive cold starts, redeploys and restarts."""
import json
import os
import time

import fal


class ModelWithStorage(fal.App):
    machine_type = "GPU-A100"

    volumes = {
        "/models": fal.Volume("model-cache"),
        "/data": fal.Volume("user-data"),
    }

    def setup(self):
        path = "/models/my-model.json"
        if os.path.exists(path):
            with open(path) as handle:
                self.model = json.load(handle)
            print(f"loaded the cached model from {path}")
        else:
            self.model = {"created_at": time.time(), "bias": 0.5}
            with open(path, "w") as handle:
                json.dump(self.model, handle)
            print(f"built the model and cached it at {path}")

    @fal.endpoint("/predict")
    def predict(self, value: float) -> dict:
        with open("/data/requests.log", "a") as handle:
            handle.write(f"{value}\n")
        return {"prediction": value + self.model["bias"], "model_created_at": self.model["created_at"]}
