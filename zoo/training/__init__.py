"""Recipe, fit loop, feature cache and run directory."""
