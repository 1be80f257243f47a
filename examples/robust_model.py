"""The spec's error-handling pattern, plus fal's error shapes.

/generate catches failures and reports them in its body, as the spec's example does.
/strict lets them surface: an AppException keeps its status, a bad field gives a 422, and
anything else is a 500 whose traceback is in the logs.
"""
import fal

try:
    import torch

    OutOfMemoryError = torch.cuda.OutOfMemoryError
except ImportError:  # No torch here: a stand-in with the same name, so the pattern still reads true.
    class OutOfMemoryError(RuntimeError):
        pass


class RobustModel(fal.App):
    machine_type = "GPU-A100"

    def _generate(self, prompt: str) -> str:
        if prompt == "oom":
            raise OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        if prompt == "crash":
            raise ValueError("the model cannot draw that")
        return prompt[::-1]

    @fal.endpoint("/generate")
    def generate(self, prompt: str) -> dict:
        try:
            result = self._generate(prompt)
            return {"success": True, "result": result}
        except OutOfMemoryError:
            return {"success": False, "error": "GPU OOM - reduce input size"}
        except Exception as e:
            return {"success": False, "error": str(e)}

    @fal.endpoint("/strict")
    def strict(self, prompt: str) -> dict:
        if not prompt.strip():
            raise fal.FieldException("prompt", "prompt must not be blank")
        if prompt == "forbidden":
            raise fal.AppException("this prompt is not allowed", status_code=403)
        return {"result": self._generate(prompt)}
