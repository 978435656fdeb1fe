"""Network definitions (pure torch modules, no training logic)."""
