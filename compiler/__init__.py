"""Compile a typed LLM Gateway deployment spec into Kustomize base/ and overlays/."""

__version__ = "0.1.0"
