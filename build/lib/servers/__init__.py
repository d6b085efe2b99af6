"""The serving stacks under test, their registry and the process that runs them."""
