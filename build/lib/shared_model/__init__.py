"""The single source of truth shared by every stack: features, schemas, model, test cases."""
