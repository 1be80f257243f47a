"""The spec's TextToImage app, runnable without downloading weights.

In place of SDXL, setup() builds a tiny generative model: a compositional pattern-producing
network (CPPN) whose weights are fixed by a seed, conditioned on an embedding of the prompt.
It runs with torch when that is installed (on the GPU when there is one), else with numpy,
else in plain Python. The endpoint saves the picture and returns its URL, as the spec's does.

torch is imported here, at the top, as real apps do: Kiln's template for the app imports it
once per revision, and each runner is forked with it already loaded.
"""
import hashlib
import math
import random

import fal

try:
    import torch
except ImportError:
    torch = None

HIDDEN = 16
LATENT = 8


def embed(prompt: str) -> list:
    """The prompt as LATENT numbers in [-1, 1]: the same prompt always draws the same picture."""
    digest = hashlib.sha256(prompt.strip().lower().encode("utf-8")).digest()
    return [(byte / 127.5) - 1.0 for byte in digest[:LATENT]]


class TextToImage(fal.App, keep_alive=300):
    """Custom image generation model."""

    machine_type = "GPU-A100"

    def setup(self):
        """Build the model on cold start."""
        rng = random.Random(1234)
        sizes = [3 + LATENT, HIDDEN, HIDDEN, 3]
        self.layers = [
            [[rng.gauss(0.0, 1.2) for _ in range(fan_out)] for _ in range(fan_in)]
            for fan_in, fan_out in zip(sizes, sizes[1:])
        ]
        self.backend = self._pick_backend()
        print(f"TextToImage model ready on {self.backend}")

    def _pick_backend(self) -> str:
        if torch is not None:
            cuda = torch.cuda.is_available()
            self.device = torch.device("cuda" if cuda else "cpu")
            self.weights = [torch.tensor(layer, device=self.device) for layer in self.layers]
            return "torch-cuda" if cuda else "torch-cpu"
        try:
            import numpy

            self.np = numpy
            self.weights = [numpy.array(layer) for layer in self.layers]
            return "numpy"
        except ImportError:
            return "python"

    @fal.endpoint("/generate")
    def generate(self, prompt: str, steps: int = 30) -> dict:
        """Generate an image from a prompt; more steps render a larger, finer picture."""
        if not 1 <= steps <= 100:
            raise fal.FieldException("steps", "steps must be between 1 and 100")
        size = 16 + 4 * steps
        latent = embed(prompt)
        if self.backend.startswith("torch"):
            pixels = self._render_torch(latent, size)
        elif self.backend == "numpy":
            pixels = self._render_numpy(latent, size)
        else:
            pixels = self._render_python(latent, size)
        url = self.save_image(fal.toolkit.Image.from_pixels(size, size, pixels))
        return {"image_url": url, "width": size, "height": size, "backend": self.backend}

    def _render_numpy(self, latent, size):
        np = self.np
        axis = np.linspace(-1.0, 1.0, size)
        x, y = np.meshgrid(axis, axis)
        radius = np.sqrt(x * x + y * y)
        features = np.concatenate(
            [np.stack([x, y, radius], axis=-1), np.broadcast_to(np.array(latent), (size, size, LATENT))], axis=-1
        )
        hidden = features
        for weight in self.weights[:-1]:
            hidden = np.tanh(hidden @ weight)
        rgb = 1.0 / (1.0 + np.exp(-(hidden @ self.weights[-1])))
        return (rgb * 255).astype(np.uint8).tobytes()

    def _render_torch(self, latent, size):
        axis = torch.linspace(-1.0, 1.0, size, device=self.device)
        y, x = torch.meshgrid(axis, axis, indexing="ij")
        radius = torch.sqrt(x * x + y * y)
        code = torch.tensor(latent, device=self.device).expand(size, size, LATENT)
        hidden = torch.cat([torch.stack([x, y, radius], dim=-1), code], dim=-1)
        for weight in self.weights[:-1]:
            hidden = torch.tanh(hidden @ weight)
        rgb = torch.sigmoid(hidden @ self.weights[-1])
        return (rgb * 255).to(torch.uint8).cpu().numpy().tobytes()

    def _render_python(self, latent, size):
        out = bytearray()
        for row in range(size):
            y = -1.0 + 2.0 * row / (size - 1)
            for column in range(size):
                x = -1.0 + 2.0 * column / (size - 1)
                hidden = [x, y, math.sqrt(x * x + y * y)] + latent
                for weight in self.layers[:-1]:
                    hidden = [math.tanh(sum(h * w[j] for h, w in zip(hidden, weight))) for j in range(HIDDEN)]
                for channel in range(3):
                    value = sum(h * w[channel] for h, w in zip(hidden, self.layers[-1]))
                    out.append(int(255 / (1.0 + math.exp(-value))))
        return bytes(out)
