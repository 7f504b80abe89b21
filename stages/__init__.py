"""ahf: the pipeline's stages (one module each) and the small modules they share."""
