"""Engines behind the scan checks: pip-audit (online and offline OSV), bandit, model files."""
