"""The spec's batched-processing pattern: many items in one request, one model call each."""
import fal


class BatchProcessor(fal.App):
    machine_type = "GPU-H100"
    max_multiplexing = 2

    def setup(self):
        self.vocabulary = {"good": 1.0, "great": 1.5, "bad": -1.0, "awful": -1.5, "fine": 0.3}

    def process_single(self, item: str) -> dict:
        words = item.lower().split()
        score = sum(self.vocabulary.get(word.strip(".,!?"), 0.0) for word in words)
        return {"item": item, "words": len(words), "sentiment": round(score, 2)}

    @fal.endpoint("/batch")
    def process_batch(self, items: list[str]) -> list[dict]:
        """Process multiple items efficiently."""
        results = []
        for item in items:
            result = self.process_single(item)
            results.append(result)
        return results
