"""The smallest Kiln app: no requirements, one endpoint.

    kiln deploy examples/hello.py
    kiln invoke hello /greet --data '{"name": "Ada"}'
"""
import fal


class Hello(fal.App, keep_alive=60):
    machine_type = "XS"

    def setup(self):
        self.greeting = "Hello"
        print("Hello app is ready")

    @fal.endpoint("/greet")
    def greet(self, name: str = "world") -> dict:
        print(f"greeting {name}")
        return {"message": f"{self.greeting}, {name}!"}
