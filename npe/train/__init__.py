"""Training the IAN (loop, EMA, checkpoints) and measuring it (PSNR, SSIM, sharpness, SWD)."""
