"""Deployment assets and the local development servers (no Docker needed)."""
