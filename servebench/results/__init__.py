"""The result format: written by `servebench run`, read by reports and regression checks."""
