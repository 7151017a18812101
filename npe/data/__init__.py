"""Face data: loading any image safely, finding and cropping faces, training datasets."""
