"""Integrations of qis with training libraries (each imports its library only when used)."""
