"""The rules of the programmes: pure functions and dataclasses, no AWS and no HTTP."""
