"""Models and the detect → align → embed / quality pipeline."""
