"""servebench: measure how to serve a model, on real stacks under identical load."""
