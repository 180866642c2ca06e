"""Small tools every layer uses: atomic writes, file locks, portable names. They import nothing of the plugin."""
