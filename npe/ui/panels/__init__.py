"""The dock panels beside the canvas: brush, latent, history, samples."""
