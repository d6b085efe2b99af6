"""Load workloads, the Locust load generator, pre-run verification and the orchestrator."""
