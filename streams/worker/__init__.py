"""The Faust worker runtime: the app, its agents, and the seam to Faust's consumer internals."""
