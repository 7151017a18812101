"""Training the IAN: objective (losses of a step), loop (Trainer), checkpoint, export, distributed, and measuring it (metrics, evaluate)."""
