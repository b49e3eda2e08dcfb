"""The papers' claims, stated once (registry), and the bars a model must clear before a verdict
may rest on it (gates)."""

from bench.claims import catalog, catalog_lwgan  # noqa: F401 - importing registers the papers' claims
from bench.claims.rules import Band, Claim, Estimate, Outcome, all_claims, get, names, register

__all__ = ["Band", "Claim", "Estimate", "Outcome", "all_claims", "get", "names", "register"]
