"""The spec's health-check pattern: the runtime calls /health before a revision takes traffic."""
import fal

try:
    import torch
except ImportError:
    torch = None


class ProductionModel(fal.App):
    machine_type = "GPU-A100"

    def setup(self):
        self.model = {"weights": [0.5, -0.25, 1.0]}

    @fal.endpoint("/health")
    def health(self) -> dict:
        """Health check endpoint."""
        return {
            "status": "healthy",
            "gpu_available": bool(torch and torch.cuda.is_available()),
            "model_loaded": hasattr(self, "model"),
        }

    @fal.endpoint("/predict")
    def predict(self, features: list[float]) -> dict:
        score = sum(weight * value for weight, value in zip(self.model["weights"], features))
        return {"score": score}
