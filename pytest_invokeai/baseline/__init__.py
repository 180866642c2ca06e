"""Baselines: fingerprints of images, their comparison, records, the store on disk, update modes, orphans."""
