"""Deployment files rendered from the registry: compose, Prometheus, Grafana, Kubernetes.

Each module renders text; `servebench compose` and `servebench k8s` write it, and the tests
compare the committed files with a fresh rendering.
"""
