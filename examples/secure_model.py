"""The spec's env and secrets pattern. Set the secrets first:

    kiln secrets set HF_TOKEN=hf_... API_KEY=...
"""
import os

import fal


class SecureModel(fal.App):
    machine_type = "GPU-A10G"

    # Public environment variables
    env = {
        "MODEL_VERSION": "v2.0",
        "DEBUG": "false",
    }

    # Secrets (encrypted)
    secrets = ["HF_TOKEN", "API_KEY"]

    def setup(self):
        hf_token = os.environ["HF_TOKEN"]
        # A real app would use the token for private model access; this one only proves it arrived.
        self.token_length = len(hf_token)
        print(f"setup with HF_TOKEN={hf_token}")

    @fal.endpoint("/info")
    def info(self) -> dict:
        return {
            "model_version": os.environ["MODEL_VERSION"],
            "debug": os.environ["DEBUG"] == "true",
            "has_api_key": bool(os.environ.get("API_KEY")),
            "token_length": self.token_length,
        }
